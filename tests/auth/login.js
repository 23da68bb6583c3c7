// One login per stdin line for tests/auth.rs, with node's mysql2, as a
// long-lived process (see login.py for the line format and the output).
'use strict';
const readline = require('readline');
const mysql = require('mysql2');

function login(host, port, user, password, mode, database, first, tls) {
  return new Promise((resolve) => {
    // FIRST: log in as that password-less account, then COM_CHANGE_USER.
    const c = mysql.createConnection({
      host,
      port,
      user: first || user,
      password: first ? '' : password,
      database,
      // TLS (encryption only: the certificate is not checked) or none;
      // fetching the RSA key over plain text is mysql2's opt-in.
      ssl: tls === 'tls' ? { rejectUnauthorized: false } : undefined,
      allowPublicKeyRetrieval: mode === 'key',
      connectTimeout: 30000,
    });
    let done = false;
    const finish = (out) => {
      if (!done) {
        done = true;
        c.destroy();
        resolve(out);
      }
    };
    c.on('error', (e) => finish('err ' + code(e)));
    const query = () =>
      c.query('SELECT CURRENT_USER() AS u, DATABASE() AS d', (e, rows) =>
        finish(e ? 'err ' + code(e) : `ok ${rows[0].u} ${rows[0].d}`)
      );
    if (first) {
      c.changeUser({ user, password, database }, (e) =>
        e ? finish('err ' + code(e)) : query()
      );
    } else {
      query();
    }
  });
}

function code(e) {
  return e.errno ? String(e.errno) : 'client:' + (e.code || e.name);
}

(async () => {
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [host, port, user, password, mode, db, first, tls] = line.split('\t');
    const out = await login(host, Number(port), user, password, mode, db, first, tls);
    process.stdout.write(out + '\n');
  }
})();
