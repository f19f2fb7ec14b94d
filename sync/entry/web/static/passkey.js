// Passkey ceremonies of the console's second-factor pages (docs/web.md). The server puts the
// WebAuthn options in the form's data-options (JSON, binary fields in base64url); the browser's
// answer goes back as JSON in the form's "response" field, and the form is posted as any other,
// with its CSRF token. The page's CSP allows this one script from this origin, nothing inline.
"use strict";

(function () {
  const form = document.getElementById("passkey-form");
  if (!form || !window.PublicKeyCredential) {
    return;
  }
  const problem = document.getElementById("passkey-problem");

  async function ceremony() {
    const options = JSON.parse(form.dataset.options);
    if (form.dataset.ceremony === "create") {
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
      return navigator.credentials.create({ publicKey });
    }
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
    return navigator.credentials.get({ publicKey });
  }

  form.addEventListener("submit", async function (event) {
    if (form.elements.response.value) {
      return; // the answer is in: post it
    }
    event.preventDefault();
    try {
      const credential = await ceremony();
      form.elements.response.value = JSON.stringify(credential.toJSON());
      form.submit();
    } catch (error) {
      problem.hidden = false;
      problem.dataset.error = String(error && error.name);
    }
  });
})();
