// The app's HTML and its one script. No inline script or style, so the strict CSP holds.
import { escapeHtml } from './http.js';

/** The single-page shell served for every unknown path in `spa` mode. */
export const SPA_SHELL = '<!doctype html><div id="root"></div><script src="/app.js"></script>';

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title><script src="/app.js" defer></script></head>
<body>
<nav><a href="/">Recipes</a> · <a href="/login">Log in</a> · <a href="/admin">Admin</a></nav>
${body}
</body>
</html>
`;
}

export function homePage(): string {
  return page(
    'Family recipes',
    `<main id="root">
<h1>Family recipes</h1>
<p>Keep the family's recipes and documents in one place, and share them with the people you cook with.</p>
<p><a href="/login">Log in</a> to see your recipes.</p>
</main>`,
  );
}

export function loginPage(): string {
  return page(
    'Log in · Family recipes',
    `<main>
<h1>Log in</h1>
<form id="login" method="post" action="/api/login">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>
<p id="message" role="status"></p>
</main>`,
  );
}

export function adminPage(users: ReadonlyArray<{ id: string; username: string; role: string }>): string {
  const rows = users.map((u) => `<tr><td>${escapeHtml(u.id)}</td><td>${escapeHtml(u.username)}</td><td>${escapeHtml(u.role)}</td></tr>`).join('\n');
  return page('Admin · Family recipes', `<main>\n<h1>Users</h1>\n<table>\n<tr><th>ID</th><th>Username</th><th>Role</th></tr>\n${rows}\n</table>\n</main>`);
}

export function errorPage(status: number, message: string): string {
  return page(`${status} · Family recipes`, `<main><h1>${status}</h1><p>${escapeHtml(message)}</p></main>`);
}

/** Posts the login form as JSON (the API's own format) and lists recipes once logged in. */
export const APP_JS = `'use strict';
(function () {
  var form = document.getElementById('login');
  if (form) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var data = { username: form.elements.username.value, password: form.elements.password.value };
      fetch('/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(data) })
        .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, body: body }; }); })
        .then(function (r) {
          if (r.ok) { location.href = '/'; return; }
          document.getElementById('message').textContent = r.body.error || 'login failed';
        });
    });
  }
  var root = document.getElementById('root');
  if (root && !form) {
    fetch('/api/recipes').then(function (res) { return res.ok ? res.json() : null; }).then(function (body) {
      if (!body) return;
      var list = document.createElement('ul');
      body.recipes.forEach(function (r) {
        var item = document.createElement('li');
        item.textContent = r.title;
        list.appendChild(item);
      });
      root.appendChild(list);
    });
  }
})();
`;
