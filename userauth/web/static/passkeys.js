// Passkeys on the hosted pages (docs/passkeys.md): the pages' only script, served from this
// site (Content-Security-Policy script-src 'self'). It calls the JSON API, the same routes a
// program uses; every page still works without it for password logins.
"use strict";

(() => {
  const decode = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  };
  const encode = (buffer) => {
    const bytes = String.fromCharCode(...new Uint8Array(buffer));
    return btoa(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const descriptors = (list) => (list || []).map((item) => ({ ...item, id: decode(item.id) }));

  const creationOptions = (json) => ({
    ...json,
    challenge: decode(json.challenge),
    user: { ...json.user, id: decode(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  });
  const requestOptions = (json) => ({
    ...json,
    challenge: decode(json.challenge),
    allowCredentials: descriptors(json.allowCredentials),
  });

  // PublicKeyCredential.toJSON() where the browser has it; the same JSON otherwise.
  const credentialJSON = (credential) => {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const response = {};
    for (const name of ["clientDataJSON", "attestationObject", "authenticatorData", "signature", "userHandle"]) {
      if (credential.response[name]) response[name] = encode(credential.response[name]);
    }
    if (credential.response.getTransports) response.transports = credential.response.getTransports();
    return {
      id: credential.id,
      rawId: encode(credential.rawId),
      type: credential.type,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment,
    };
  };

  // The API is at /auth/api/ behind the README's proxies, at the root when userauth is
  // reached directly: asked once per page.
  let base = null;
  const apiBase = async () => {
    if (base === null) {
      const probe = await fetch("/auth/api/healthz", { credentials: "same-origin" });
      base = probe.ok ? "/auth/api" : "";
    }
    return base;
  };
  const api = async (method, path, body) => {
    const headers = {};
    let payload;
    if (body instanceof URLSearchParams) {
      payload = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch((await apiBase()) + path, {
      method, headers, body: payload, credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.message || `error ${response.status}`);
    return answer;
  };

  const say = (text) => {
    const place = document.getElementById("passkey-message");
    if (!place) return;
    place.textContent = text;
    place.hidden = false;
  };
  // The page's own words (its data-* attributes, in the page's language), else English.
  const words = (key, english) =>
    document.getElementById("passkey-message")?.dataset[key] || english;
  const nextPage = () => {
    const next = document.querySelector("input[name=next]");
    return (next && next.value) || "/auth/account";
  };

  const logIn = async (mediation, signal) => {
    const options = await api("POST", "/sessions/passkey/options");
    const credential = await navigator.credentials.get({
      publicKey: requestOptions(options), mediation, signal,
    });
    await api("POST", "/sessions/passkey", { credential: credentialJSON(credential) });
    window.location.assign(nextPage());
  };

  const setUpLogin = (button) => {
    let autofill = null;
    button.hidden = false;
    button.addEventListener("click", () => {
      if (autofill) autofill.abort();
      logIn("required").catch((error) =>
        say(`${words("loginFailed", "Passkey login failed:")} ${error.message}`));
    });
    // Conditional mediation: the browser offers the passkeys in the email field's autofill.
    const field = document.querySelector("input[autocomplete~=webauthn]");
    if (!field || !window.PublicKeyCredential?.isConditionalMediationAvailable) return;
    PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
      if (!available) return;
      autofill = new AbortController();
      logIn("conditional", autofill.signal).catch((error) => {
        if (error.name === "AbortError") return;
        say(`${words("loginFailed", "Passkey login failed:")} ${error.message}`);
      });
    });
  };

  const register = async (optionsPath, optionsBody, finishPath, extra) => {
    const options = await api("POST", optionsPath, optionsBody);
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    return api("POST", finishPath, { credential: credentialJSON(credential), ...extra });
  };

  const setUpAccount = (section) => {
    const failed = (error) => say(error.message === "re-authentication required"
      ? words("logInAgain", "For your safety, log in again before changing your passkeys.")
      : `${words("failed", "That did not work:")} ${error.message}`);
    section.querySelector("#passkey-add").addEventListener("click", () => {
      const name = section.querySelector("#passkey-name").value;
      register("/passkeys/registration/options", undefined, "/passkeys/registration", { name })
        .then(() => window.location.reload(), failed);
    });
    for (const row of section.querySelectorAll("[data-passkey]")) {
      const id = row.dataset.passkey;
      row.querySelector(".passkey-rename").addEventListener("click", () => {
        const name = row.querySelector("input").value;
        api("PATCH", `/passkeys/${id}`, { name }).then(() => window.location.reload(), failed);
      });
      row.querySelector(".passkey-remove").addEventListener("click", () => {
        api("DELETE", `/passkeys/${id}`).then(() => window.location.reload(), failed);
      });
    }
  };

  const setUpSignUp = (button) => {
    button.hidden = false;
    button.addEventListener("click", () => {
      const email = document.querySelector("input[name=email]").value;
      register("/users/passkey/options", new URLSearchParams({ email }), "/users/passkey", {})
        .then(() => window.location.assign(nextPage()))
        .catch((error) =>
          say(`${words("notCreated", "Could not create the passkey:")} ${error.message}`));
    });
  };

  // The re-authentication page: the passkey refreshes the session's authentication, then
  // the action's own form goes on (with neither password nor code: the session is recent).
  const setUpReauthentication = (form) => {
    form.hidden = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      (async () => {
        const options = await api("POST", "/sessions/reauthenticate/passkey/options");
        const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
        await api("POST", "/sessions/reauthenticate/passkey", { credential: credentialJSON(credential) });
        form.submit();
      })().catch((error) =>
        say(`${words("notAccepted", "The passkey was not accepted:")} ${error.message}`));
    });
  };

  document.addEventListener("DOMContentLoaded", () => {
    if (!window.PublicKeyCredential) return;
    const login = document.getElementById("passkey-login");
    if (login) setUpLogin(login);
    const account = document.getElementById("passkeys");
    if (account) setUpAccount(account);
    const signUp = document.getElementById("passkey-signup");
    if (signUp) setUpSignUp(signUp);
    const reauthenticate = document.getElementById("passkey-reauthenticate");
    if (reauthenticate) setUpReauthentication(reauthenticate);
  });
})();
