"""One login per stdin line for tests/auth.rs, with PyMySQL or
mysql-connector-python (argv[1]), as a long-lived process so the matrix pays
Python's start-up once per client, not once per login.

Line: HOST<TAB>PORT<TAB>USER<TAB>PASSWORD<TAB>MODE<TAB>DB<TAB>FIRST<TAB>TLS (MODE:
key = the client may fetch the server's RSA public key, nokey = it may not;
FIRST, when not empty: log in as that password-less account first, then
change to USER with COM_CHANGE_USER; TLS: tls = connect with TLS, the
certificate not checked, plain = TLS off). Prints one line:
`ok <CURRENT_USER()> <DATABASE()>` or `err <code>` (the error number, or `client:<class>`
for a failure that has none). The direct login uses the same options as the
proxied one.
"""
import ssl
import sys

which = sys.argv[1]
if which == "pymysql":
    import pymysql
elif which == "connector":
    import logging
    import mysql.connector
    # It logs a missing plugin (ed25519) as a warning; the outcome line says it.
    logging.getLogger("mysql.connector").setLevel(logging.ERROR)
else:
    raise SystemExit("usage: login.py pymysql|connector")


def tls_context():
    # Encryption only: the certificate is not what the matrix tests.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def login(host, port, user, password, mode, db, first, tls):
    # Connector/Python: TLS when not disabled (the certificate unchecked by
    # default); it fails rather than go on in plain text when asked for TLS.
    conn_tls = {"ssl_disabled": True} if not tls else {"ssl_disabled": False}
    if first:
        # Connector/Python only (PyMySQL has no COM_CHANGE_USER).
        c = mysql.connector.connect(host=host, port=port, user=first, password="", database=db,
                                    connection_timeout=30, use_pure=True, **conn_tls)
        try:
            c.cmd_change_user(username=user, password=password, database=db)
        except Exception:
            c.close()
            raise
    elif which == "pymysql":
        # PyMySQL has no switch to refuse the key: without TLS it always asks
        # the server for it (and needs `cryptography` to use it).
        if tls:
            c = pymysql.connect(host=host, port=port, user=user, password=password,
                                database=db, ssl=tls_context(), connect_timeout=30)
        else:
            c = pymysql.connect(host=host, port=port, user=user, password=password,
                                database=db, ssl_disabled=True, connect_timeout=30)
    else:
        # Connector/Python's pure mode has no RSA at all: without TLS
        # caching_sha2's full path and sha256_password fail, whatever MODE
        # says. Pure mode always: where the C extension is built, it would
        # behave as libmysqlclient instead (and the outcomes are pinned).
        c = mysql.connector.connect(host=host, port=port, user=user, password=password,
                                    database=db, connection_timeout=30, use_pure=True,
                                    **conn_tls)
    try:
        cur = c.cursor()
        cur.execute("SELECT CURRENT_USER(), DATABASE()")
        return "ok %s %s" % cur.fetchone()
    finally:
        c.close()


for line in sys.stdin:
    host, port, user, password, mode, db, first, tls = line.rstrip("\n").split("\t")
    try:
        out = login(host, int(port), user, password, mode, db, first, tls == "tls")
    except Exception as e:  # every failure is an outcome to compare
        code = getattr(e, "errno", None) if which == "connector" else None
        if which == "pymysql" and isinstance(e, pymysql.err.MySQLError) and e.args \
                and isinstance(e.args[0], int):
            code = e.args[0]
        out = "err %s" % (code if code and code > 0 else "client:" + type(e).__name__)
    print(out, flush=True)
