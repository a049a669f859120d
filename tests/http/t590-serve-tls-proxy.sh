#!/bin/sh
# TLS through the reverse proxy of churn-serve(1)'s TLS section: the nginx
# server block printed there, run as it is (its address, port and
# certificate paths put to a free loopback port and a throwaway
# self-signed certificate), answers HTTPS for churn-serve.
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
command -v nginx >/dev/null 2>&1 || skip "nginx is not installed (scripts/install-deps installs nginx-light)"
command -v openssl >/dev/null 2>&1 || skip "openssl is not installed"

# the example, from the man page
sed -n '/^\.Sh TLS/,/^\.Sh /p' "$CHURN_TOP/man/churn-serve.1" | sed -n '/^server {$/,/^}$/p' >example.conf
[ -s example.conf ] || fail "no nginx server block in churn-serve(1), TLS"
grep -q 'proxy_pass http://127.0.0.1:8000;' example.conf || fail "the example does not proxy to 127.0.0.1:8000"

model m.model 800 1
start_serve --model m.model
tport=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=churn.example.com \
	-keyout key.pem -out cert.pem >openssl.log 2>&1 || { cat openssl.log; fail "openssl req failed"; }
sed -e "s|listen 443 ssl;|listen 127.0.0.1:$tport ssl;|" \
	-e "s|/etc/ssl/churn/cert.pem|$PWD/cert.pem|" -e "s|/etc/ssl/churn/key.pem|$PWD/key.pem|" \
	-e "s|http://127.0.0.1:8000;|http://127.0.0.1:$PORT;|" example.conf >server.conf
cmp -s example.conf server.conf && fail "nothing substituted in the example"
mkdir -p ngx
cat >nginx.conf <<CONF
pid $PWD/ngx/nginx.pid;
error_log $PWD/ngx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $PWD/ngx/body;
    proxy_temp_path $PWD/ngx/proxy;
    fastcgi_temp_path $PWD/ngx/fastcgi;
    uwsgi_temp_path $PWD/ngx/uwsgi;
    scgi_temp_path $PWD/ngx/scgi;
    include $PWD/server.conf;
}
CONF
nginx -t -c "$PWD/nginx.conf" >t.log 2>&1 || { cat t.log; fail "nginx -t rejects the example"; }
nginx -c "$PWD/nginx.conf" -g 'daemon off;' 2>ngx/stderr &
ngx=$!
trap 'kill $ngx 2>/dev/null; wait $ngx 2>/dev/null; stop_serve' EXIT
https="https://churn.example.com:$tport"
i=0
until curl -s -o /dev/null --resolve "churn.example.com:$tport:127.0.0.1" --cacert cert.pem "$https/health"; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat ngx/stderr ngx/error.log; fail "nginx did not answer within 5 s"; }
	sleep 0.05
done
s=$(curl -s -o body -w '%{http_code}' --resolve "churn.example.com:$tport:127.0.0.1" --cacert cert.pem "$https/ready")
[ "$s" = 200 ] || fail "GET /ready over TLS: $s $(cat body)"
customer 1 m.model.csv >c.json
s=$(curl -s -o body -w '%{http_code}' --resolve "churn.example.com:$tport:127.0.0.1" --cacert cert.pem \
	-H 'Content-Type: application/json' --data-binary @c.json "$https/predict")
[ "$s" = 200 ] && jq -e '.churn_probability >= 0' body >/dev/null || fail "POST /predict over TLS: $s $(cat body)"
# and only TLS is spoken there
s=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$tport/ready")
[ "$s" = 400 ] || fail "plain HTTP on the TLS port answered $s, not 400"
echo ok
