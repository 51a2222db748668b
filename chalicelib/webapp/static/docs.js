// The API docs page: Swagger UI over /api/v1/openapi.json, with a login form that authorizes
// "Try it out" (a token from POST /auth/login made in the page is used too).
"use strict";
(function () {
  const api = document.querySelector('meta[name="haul-api"]').content;
  const who = document.getElementById("docs-who");
  let ui = null;

  function authorize(token, user) {
    ui.preauthorizeApiKey("bearer", token);
    who.textContent = user ? `Signed in as ${user.username} (${user.role}); requests are sent with this token.` : "Authorized.";
  }

  document.getElementById("docs-login").addEventListener("submit", async (event) => {
    event.preventDefault();
    who.textContent = "Signing in…";
    const body = {username: document.getElementById("docs-user").value, password: document.getElementById("docs-password").value};
    try {
      const response = await fetch(`${api}/auth/login`, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
      const data = await response.json();
      if (response.ok) authorize(data.access_token, data.user);
      else who.textContent = (data.error && data.error.message) || `Login failed (${response.status}).`;
    } catch (error) {
      who.textContent = "The server cannot be reached.";
    }
  });

  ui = window.SwaggerUIBundle({
    url: `${api}/openapi.json`,
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    tryItOutEnabled: false,
    displayRequestDuration: true,
    filter: true,
    // Logging in through "Try it out" on POST /auth/login or /auth/setup authorizes the page too.
    responseInterceptor: (response) => {
      if (response.ok && /\/auth\/(login|setup|refresh)$/.test(response.url) && response.body && response.body.access_token) {
        authorize(response.body.access_token, response.body.user);
      }
      return response;
    },
  });
})();
