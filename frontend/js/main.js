// main.js — the app shell: hash routes (#/login, #/register, #/diary?page=2,
// #/stats, #/account), the navigation, the "backend down" banner, and the
// way back to login when a session ends.
import * as api from './api.js';
import { announce, clearAnnouncements, h } from './dom.js';
import { forgetDrafts } from './drafts.js';
import * as account from './views/account.js';
import * as auth from './views/auth.js';
import * as diary from './views/diary.js';
import * as stats from './views/stats.js';

const ROUTES = {
  login: { render: auth.renderLogin, public: true },
  register: { render: auth.renderRegister, public: true },
  diary: { render: diary.render },
  stats: { render: stats.render },
  account: { render: account.render },
};

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const banner = document.getElementById('banner');
let flash = null; // a message for the next view: {kind: 'success'|'warning', text}
let current = null; // the view container being rendered

function parseHash() {
  const m = /^#\/([a-z]*)(?:\?(.*))?$/.exec(location.hash);
  return m ? { name: m[1], params: new URLSearchParams(m[2] || '') } : null;
}

function navigate(hash, message = null) {
  if (message) flash = message;
  if (location.hash === hash) route();
  else location.hash = hash;
}

function showBanner(up) {
  if (!up && banner.hidden) announce(document.getElementById('banner-text').textContent, { assertive: true });
  banner.hidden = up;
}

async function route() {
  const parsed = parseHash();
  if (!parsed && location.hash && location.hash !== '#') return; // an in-page link (#main)
  const loggedIn = api.isLoggedIn();
  let name = parsed && ROUTES[parsed.name] ? parsed.name : null;
  if (!name) name = loggedIn ? 'diary' : 'login';
  else if (!ROUTES[name].public && !loggedIn) name = 'login';
  else if (ROUTES[name].public && loggedIn) name = 'diary';
  if (!parsed || parsed.name !== name) {
    history.replaceState(null, '', `#/${name}`);
  }
  const params = parsed && parsed.name === name ? parsed.params : new URLSearchParams();

  nav.hidden = !api.isLoggedIn();
  for (const link of nav.querySelectorAll('a[data-route]')) {
    if (link.dataset.route === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }

  const view = h('div', { class: `view view-${name}` });
  current = view;
  main.replaceChildren(view);
  const ctx = {
    params,
    flash,
    navigate,
    reload: () => route(),
  };
  flash = null;
  try {
    await ROUTES[name].render(view, ctx);
  } catch (err) {
    if (current === view) {
      view.append(h('p', { class: 'notice notice-warning', role: 'alert' }, 'Something went wrong showing this page.'));
    }
    console.error(err);
  }
  // Move focus to the new view's heading unless the view focused a control.
  if (current === view && (document.activeElement === document.body || !main.contains(document.activeElement))) {
    const heading = view.querySelector('h1');
    if (heading) heading.focus({ preventScroll: true });
  }
}

// A session that ends by itself (expiry, revocation) keeps this account's
// drafts for when the same person logs in again (drafts.js); nothing else of
// the session stays on screen or in the live regions.
api.onSessionEnded((message) => {
  clearAnnouncements();
  navigate('#/login', { kind: 'warning', text: message });
});

api.onAvailability((up) => showBanner(up));

document.getElementById('banner-retry').addEventListener('click', () => {
  announce('Trying again…');
  route();
});

document.getElementById('logout').addEventListener('click', async () => {
  await api.logout();
  forgetDrafts();
  clearAnnouncements();
  navigate('#/login', { kind: 'success', text: 'You have logged out. See you next time.' });
});

window.addEventListener('hashchange', route);
route();
