// s3server.js - the S3-compatible test server (s3rver 4, which checks SigV4
// signatures), started by scripts/services.
//   node --openssl-legacy-provider tests/s3server.js DIR PORT [BUCKET,...]
// Credentials from S3_ACCESS_KEY / S3_SECRET_KEY; prints "s3 listening on
// ADDRESS:PORT" once it accepts requests.
'use strict';
const S3rver = require('@20minutes/s3rver');
const Account = require('@20minutes/s3rver/lib/models/account');

const [dir, port = '9000', buckets = ''] = process.argv.slice(2);
if (!dir) {
  console.error('usage: s3server.js DIR [PORT] [BUCKET,...]');
  process.exit(2);
}
const key = process.env.S3_ACCESS_KEY || 'minioadmin';
const secret = process.env.S3_SECRET_KEY || 'minioadmin';
Account.DUMMY_ACCOUNT.revokeAccessKey('S3RVER'); // no built-in S3RVER:S3RVER pair
Account.DUMMY_ACCOUNT.createKeyPair(key, secret);
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory: dir,
  silent: true,
  vhostBuckets: false,
  configureBuckets: buckets.split(',').filter(Boolean).map((name) => ({ name, configs: [] })),
});
server.run().then(
  ({ address, port: p }) => console.log(`s3 listening on ${address}:${p}`),
  (err) => { console.error(`s3server: ${err.message}`); process.exit(1); },
);
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close().then(() => process.exit(0)));
}
