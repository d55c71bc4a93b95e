// Browser-side code. It writes cookies only through writeCookie(), with the attributes of the
// server's cookie policy, read from the page's <script id="app-config" type="application/json">.
// The server can therefore overwrite and expire every cookie this script writes.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("app-config").textContent);
  const policy = config.cookies;
  const THEME_COOKIE = "theme";

  function attributes(maxAge) {
    const parts = ["Path=" + policy.path, "Max-Age=" + maxAge];
    if (policy.domain) parts.push("Domain=" + policy.domain);
    parts.push("SameSite=" + policy.sameSite.charAt(0).toUpperCase() + policy.sameSite.slice(1));
    if (policy.secure) parts.push("Secure");
    return parts.join("; ");
  }

  function writeCookie(name, value) {
    document.cookie = name + "=" + encodeURIComponent(value) + "; " + attributes(policy.maxAge);
  }

  function expireCookie(name) {
    document.cookie = name + "=; " + attributes(0);
  }

  function cookieNames() {
    return document.cookie.split(";").map((pair) => pair.split("=")[0].trim()).filter(Boolean);
  }

  function readCookie(name) {
    for (const pair of document.cookie.split(";")) {
      const [key, ...rest] = pair.split("=");
      if (key.trim() === name) return decodeURIComponent(rest.join("="));
    }
    return null;
  }

  // Theme preference: a cookie the browser code owns, written under the policy.
  function applyTheme(theme) {
    document.documentElement.dataset.theme = theme;
    const toggle = document.getElementById("theme-toggle");
    if (toggle) {
      toggle.setAttribute("aria-pressed", String(theme === "dark"));
      toggle.textContent = theme === "dark" ? "Light theme" : "Dark theme";
    }
  }

  function setUpTheme() {
    applyTheme(readCookie(THEME_COOKIE) === "dark" ? "dark" : "light");
    const toggle = document.getElementById("theme-toggle");
    if (!toggle) return;
    toggle.addEventListener("click", () => {
      const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
      writeCookie(THEME_COOKIE, next);
      applyTheme(next);
    });
  }

  // Sign-out in one tab moves the app's other tabs to the signed-out state. The tab that signs
  // out announces it once it is back from the IdP signed out, so the others reload a page the
  // server already renders signed out.
  function setUpSignOutBroadcast() {
    if (!("BroadcastChannel" in window)) return;
    const channel = new BroadcastChannel("auth");
    const signedIn = document.querySelector("main").dataset.signedIn === "true";
    const form = document.querySelector("form.sign-out");
    if (form) form.addEventListener("submit", () => sessionStorage.setItem("signing-out", "1"));
    if (sessionStorage.getItem("signing-out")) {
      // Still signed in means the sign-out was refused (e.g. a stale form): nothing to announce.
      sessionStorage.removeItem("signing-out");
      if (!signedIn) channel.postMessage("signed-out");
    }
    channel.addEventListener("message", (event) => {
      // The home link knows the app's base path.
      if (event.data === "signed-out" && signedIn) window.location.replace(document.querySelector("a.brand").href);
    });
  }

  // /diagnostics/cookies: what this script sees, against the policy.
  function runCookieCheck() {
    const list = document.getElementById("browser-check");
    if (!list) return;
    const results = [];
    const names = cookieNames();
    const seen = new Set();
    const duplicates = new Set(names.filter((name) => (seen.has(name) ? true : (seen.add(name), false))));
    results.push(["ok", "Visible to scripts: " + (names.length ? names.join(", ") : "none") +
      " (HttpOnly cookies such as the session are invisible here, as they should be)."]);
    if (duplicates.size) {
      results.push(["bad", "Duplicate names seen by scripts: " + [...duplicates].join(", ") +
        ". Cookies with these names exist under more than one Domain or Path."]);
    }
    const probe = "cookie_probe";
    writeCookie(probe, "1");
    if (readCookie(probe) === "1") {
      expireCookie(probe);
      results.push(readCookie(probe) === null
        ? ["ok", "A cookie written with the policy's attributes was stored, read back and expired."]
        : ["bad", "A cookie written with the policy's attributes could not be expired again."]);
    } else {
      results.push(["bad", "The browser refused a cookie written with the policy's attributes " +
        "(check Domain against this host, and Secure against http)."]);
    }
    list.replaceChildren(...results.map(([kind, text]) => {
      const item = document.createElement("li");
      item.className = "check " + kind;
      item.textContent = text;
      return item;
    }));
    list.dataset.done = "true";
  }

  setUpTheme();
  setUpSignOutBroadcast();
  document.addEventListener("DOMContentLoaded", runCookieCheck);
  if (document.readyState !== "loading") runCookieCheck();
})();
