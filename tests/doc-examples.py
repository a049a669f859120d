#!/usr/bin/python3
"""doc-examples.py - run every example of README.md and the man pages.

    doc-examples.py [--list] OUTDIR DOC...

What is an example:
  README.md   every line of an indented (4 spaces) or ```sh code block,
              except a block right after a line `<!-- not commands -->`.
  man pages   in the EXAMPLES section (in the whole page when it has no
              EXAMPLES section, as churn(7)): a `.Dl $ cmd` line, and a line
              `$ cmd` (or `# cmd`, a root prompt) inside `.Bd -literal`.
              A command ending in `\\` goes on with the next line, and a
              here-document (`<<EOF`) takes the lines up to its end.  The
              other lines of a literal block are output, files or crontab
              lines: not run.  Each command is taken as mandoc renders it
              (-T utf8), so \\(dq, \\e, \\- and quoting come out as a reader
              sees them.

The expected exit status is 0 unless the source says otherwise:
  README.md   a trailing shell comment that starts `# exit N` (`# exit 1: drift`)
  man pages   a roff comment line `.\\" exit N` right before the command (the
              `.Dl` line, or the `$` line in a literal block)
A man page may also prepare files it does not show with `.\\" run: CMD`
lines (run where they stand, expected to exit 0).

How they run: one shell (sh) per document, in OUTDIR/<doc>/, the examples
in order, so that what one creates the next can use; PATH starts with
$CHURN_BIN, no CHURN_STORE or CHURN_DATABASE_URL (the store is ./var/store
of that directory).  churn-serve's port 8000 is a free port instead
(CHURN_LISTEN, and `:8000` in the commands becomes `:PORT`; 0.0.0.0 becomes
127.0.0.1).  A command ending in `&` runs in the background until the
document is done; the command after it is retried for up to 20 s while
the server starts.  The MinIO and PostgreSQL addresses the docs use
(SERVICES below) become tests/run's throwaway services, with a fresh
database and bucket prefix for each document.  A document stops at its
first command that does not exit as noted; the script exits 1 when any
did.  SKIP below lists what cannot run here, with the reason; --list
prints every example with its expected status, or why it is skipped.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

# (regular expression searched in the command, why it is not run here)
SKIP = [
    (r'scripts/install-deps', 'installs Debian packages, as root'),
    (r'^make (demo|check|bench)\b', 'builds and writes in the source tree '
     '(and make check runs this test)'),
    (r'scripts/pipeline', 'writes .env at the top of the checkout and starts '
     'services and a server on the fixed port 8000 (t6000-pipeline runs it)'),
    (r'^make (install|uninstall)\b', 'installs into the system'),
    (r'\b(systemctl|journalctl)\b', 'systemd does not run here (the unit is '
     'checked by systemd-analyze verify)'),
    (r'\bdocker\b', 'the Docker stack (the compose test runs it)'),
    (r'\bjenkins\b', 'Jenkins is not here (the Jenkinsfile\'s stage scripts '
     'are tested)'),
    (r'\bcrontab\b', 'edits the user\'s crontab'),
    (r'\b(nginx|caddy)\b', 'a reverse proxy that is not here'),
    (r'\bvi\b', 'an interactive editor'),
    (r'=\.\.\.', 'placeholders for secrets (the test services\' keys are '
     'in the environment)'),
    (r's3://data/', 'a bucket of data that is not here'),
    (r'\bsbatch\b|/data/2026', 'a Slurm cluster and its shared file system '
     '(t261-slurm starts one and runs these jobs)'),
]

# The MinIO and PostgreSQL of the docs become tests/run's throwaway services
# (a fresh database and bucket prefix for each document); without them a
# command that names them is skipped.
SERVICES = [
    (r'http://(127\.0\.0\.1|minio):9000', 's3'),
    (r's3://models/churn', 'store'),
    (r'postgresql://churn@db(\.example)?:5432/churn', 'db'),
]

MANDOC = 'mandoc'


def skip_reason(cmd):
    for pat, why in SKIP:
        if re.search(pat, cmd):
            return why
    return None


def render(line, literal):
    """The text mandoc makes of one source line (.Dl, or in a literal block)."""
    if not line.strip():
        return ''
    src = '.Dd January 1, 2026\n.Dt X 1\n.Os x\n.Sh X\n'
    if literal:
        src += '.Bd -literal\n' + line + '\n.Ed\n'
    else:
        src += line + '\n'
    out = subprocess.run([MANDOC, '-T', 'utf8', '-O', 'width=1000'],
                         input=src.encode(), stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    out = re.sub('.\b', '', out).split('\n')
    i = next(n for n, s in enumerate(out) if s.strip() == 'X') + 1
    body = [s for s in out[i:] if s.strip()][:-1]   # the last is the footer
    return '\n'.join(s.strip() for s in body)


def is_prompt(s):
    return s.startswith('$ ') or s.startswith('# ')


def from_man(path):
    """[(line number, command, expected status, hidden)] of a man page."""
    src = open(path, encoding='utf-8').read().split('\n')
    has_ex = any(re.match(r'\.Sh\s+EXAMPLES\b', s) for s in src)
    inex = not has_ex
    out = []
    want = None
    i = 0
    while i < len(src):
        s = src[i]
        if s.startswith('.Sh'):
            inex = not has_ex or bool(re.match(r'\.Sh\s+EXAMPLES\b', s))
        m = re.match(r'\.\\"\s*exit:?\s+(\d+)\s*$', s)
        if inex and m:
            want = int(m.group(1))
        m = re.match(r'\.\\"\s*run:\s*(.*)$', s)
        if inex and m:
            out.append((i + 1, m.group(1), 0, True))
        if inex and s.startswith('.Dl'):
            text = render(s, False)
            if is_prompt(text):
                out.append((i + 1, text[2:], want or 0, False))
            want = None
        if s.startswith('.Bd'):
            want = None         # .\" exit N goes right before its command
        if inex and re.match(r'\.Bd\s+-literal', s):
            j = i + 1
            block = []           # (source line number, source line)
            while j < len(src) and not src[j].startswith('.Ed'):
                block.append((j + 1, src[j]))
                j += 1
            lines = [b for b in block if not b[1].startswith('.\\"')]
            texts = [render(b, True) for _, b in lines]
            comments = {}
            for n, b in block:
                m = re.match(r'\.\\"\s*exit:?\s+(\d+)\s*$', b)
                if m:
                    comments[n + 1] = int(m.group(1))
            k = 0
            while k < len(texts) and k < len(lines):
                t, (n, _) = texts[k], lines[k]
                k += 1
                if not is_prompt(t):
                    continue
                cmd = t[2:]
                while cmd.endswith('\\') and k < len(texts):
                    cmd = cmd + '\n' + texts[k]
                    k += 1
                h = re.search(r"<<-?\s*'?\"?(\w+)", cmd)
                if h:
                    while k < len(texts):
                        cmd += '\n' + texts[k]
                        k += 1
                        if texts[k - 1].strip() == h.group(1):
                            break
                out.append((n, cmd, comments.get(n, 0), False))
            i = j
        i += 1
    return out


def from_readme(path):
    src = open(path, encoding='utf-8').read().split('\n')
    out = []
    i, prev, fence = 0, '', None
    ignore = False
    while i < len(src):
        s = src[i]
        if fence is not None:
            if s.startswith('```'):
                fence = None
            elif fence:
                out.append((i + 1, s))
        elif s.startswith('```'):
            fence = s[3:].strip() in ('sh', 'shell') and not ignore
            ignore = False
        elif s.startswith('    ') and prev.strip() == '':
            # an indented block: until a non-blank line that is not indented
            while i < len(src) and (src[i].startswith('    ') or
                                    src[i].strip() == ''):
                if src[i].strip() and not ignore:
                    out.append((i + 1, src[i][4:]))
                i += 1
            prev = ''
            ignore = False
            continue
        elif s.strip() == '<!-- not commands -->':
            ignore = True
        prev = s
        i += 1
    res = []
    for n, cmd in out:
        m = re.search(r'\s#\s*exit\s+(\d+)\b', cmd)
        res.append((n, cmd, int(m.group(1)) if m else 0, False))
    return res


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def q(s):
    return "'" + s.replace("'", "'\\''") + "'"


def services(doc, examples):
    """The replacements of SERVICES for one document, None without them."""
    if not any(re.search(pat, cmd) for _, cmd, _, _ in examples
               for pat, _ in SERVICES):
        return {}
    url = os.environ.get('CHURN_TEST_DATABASE_URL')
    s3 = os.environ.get('CHURN_TEST_S3_ENDPOINT')
    bucket = os.environ.get('CHURN_TEST_S3_BUCKET')
    if not (url and s3 and bucket):
        return None
    db = 'doc_%s_%d' % (re.sub(r'\W', '_', doc), os.getpid())
    subprocess.run(['psql', '-X', '-q', url, '-c', 'CREATE DATABASE ' + db],
                   check=True, stdout=subprocess.DEVNULL)
    return {'s3': s3, 'store': 's3://%s/%s' % (bucket, db),
            'db': url.rsplit('/', 1)[0] + '/' + db, 'dbname': db}


def drop(svc):
    if svc:
        subprocess.run(['psql', '-X', '-q', os.environ['CHURN_TEST_DATABASE_URL'],
                        '-c', 'DROP DATABASE IF EXISTS %s WITH (FORCE)' %
                        svc['dbname']], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def script(doc, examples, port, svc):
    """The sh script that runs one document's examples."""
    sh = ['__last=0',
          # the script leads its own process group (a session of its own):
          # everything it started in the background ends with it
          '__end() { trap "" TERM; kill -TERM -$$ 2>/dev/null; wait; }',
          'trap __end EXIT',
          '__st() { return "$1"; }     # $? as the last example left it',
          '__check() {',
          '  [ "$1" -eq "$2" ] && return',
          '  echo "doc-examples: $3: exited $1, not $2: $4" >&2; exit 1',
          '}']
    retry = False
    for n, cmd, want, hidden in examples:
        where = '%s:%d' % (doc, n)
        why = skip_reason(cmd)
        run = cmd
        for pat, key in SERVICES:
            if re.search(pat, run):
                if svc is None:
                    why = why or ('a MinIO and PostgreSQL: no test services '
                                  '(tests/run starts them)')
                else:
                    run = re.sub(pat, svc[key], run)
        if why:
            sh.append('echo %s' % q('--- %s: skipped (%s): %s' % (where, why, cmd)))
            continue
        run = run.replace('0.0.0.0:8000', '127.0.0.1:8000')
        run = run.replace(':8000', ':%d' % port)
        sh.append('echo %s' % q('--- %s%s: %s' % (where, ' (setup)' if hidden else '', cmd)))
        if re.search(r'(?<!&)&\s*(#[^\'"]*)?$', run):
            sh += ['__st $__last', run, '__last=0']
            retry = True
            continue
        if retry:       # a server started just before: give it 20 s
            sh += ['__i=0', 'while :; do', '__st $__last', run,
                   '__s=$?; [ $__s -eq %d ] || [ $__i -ge 100 ] && break' % want,
                   '__i=$((__i + 1)); sleep 0.2', 'done', '__last=$__s']
            retry = False
        else:
            sh += ['__st $__last', run, '__last=$?']
        sh.append('__check $__last %d %s %s' % (want, q(where), q(cmd)))
    sh.append('exit 0')
    return '\n'.join(sh) + '\n'


def main():
    args = sys.argv[1:]
    listing = args and args[0] == '--list'
    if listing:
        args = args[1:]
    if len(args) < 2:
        sys.exit('usage: doc-examples.py [--list] OUTDIR DOC...')
    outdir, docs = args[0], args[1:]
    env = dict(os.environ)
    for v in ('CHURN_STORE', 'CHURN_DATABASE_URL', 'CHURN_S3_ENDPOINT',
              'CHURN_MODEL', 'CHURN_ADMIN_TOKEN', 'CHURN_WEBHOOK_SECRET'):
        env.pop(v, None)
    env['PATH'] = os.environ['CHURN_BIN'] + ':' + os.environ['PATH']
    env['LC_ALL'] = 'C.UTF-8'
    failed = []
    for doc in docs:
        name = os.path.basename(doc)
        ex = from_readme(doc) if name.endswith('.md') else from_man(doc)
        if listing:
            for n, cmd, want, hidden in ex:
                why = skip_reason(cmd)
                print('%s:%d: [exit %d]%s%s %s' % (
                    name, n, want, ' (setup)' if hidden else '',
                    ' (skip: %s)' % why if why else '', cmd))
            continue
        d = os.path.join(outdir, name)
        os.makedirs(d, exist_ok=True)
        port = free_port()
        env['CHURN_LISTEN'] = '127.0.0.1:%d' % port
        svc = services(name, ex)
        with open(os.path.join(d, 'examples.sh'), 'w') as f:
            f.write(script(name, ex, port, svc))
        with open(os.path.join(d, 'examples.log'), 'w') as log:
            # a session of its own, so that whatever the examples left
            # running (servers started in a loop) ends with them
            p = subprocess.Popen(['sh', 'examples.sh'], cwd=d, env=env,
                                 stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            try:
                rc = p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                rc = 'timeout'
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if rc == 'timeout':
                p.wait()
        drop(svc)
        text = open(os.path.join(d, 'examples.log')).read()
        nrun = text.count('\n--- ') + text.startswith('--- ')
        nskip = text.count(': skipped (')
        print('%s: %d examples, %d skipped: %s' % (
            name, nrun - nskip, nskip, 'ok' if rc == 0 else 'FAIL (%s)' % rc))
        if rc != 0:
            failed.append(name)
            print('\n'.join('    ' + s[:300] for s in text.split('\n')[-25:]))
        else:   # keep the log, not the data (churn-gen(1) makes 140 MB)
            for f in os.listdir(d):
                if f not in ('examples.sh', 'examples.log'):
                    p = os.path.join(d, f)
                    if os.path.isdir(p) and not os.path.islink(p):
                        shutil.rmtree(p, ignore_errors=True)
                    elif os.path.lexists(p):
                        os.unlink(p)
    if failed:
        print('doc-examples: failed: ' + ' '.join(failed))
        sys.exit(1)


main()
