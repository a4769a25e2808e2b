// A display link (/wallboard/link#TOKEN): trade the token for a display session.
// The token is in the fragment, which the browser never sends to a server; it is
// dropped from the address and the history before anything else happens.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("wallboard-config").textContent);
  const status = document.getElementById("link-status");
  const token = decodeURIComponent(location.hash.slice(1));
  history.replaceState(null, "", location.pathname + location.search);
  if (!token) {
    status.textContent = config.text["link.missing"];
    return;
  }
  fetch("/wallboard/link", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  })
    .then((response) => {
      if (response.status === 204) {
        location.replace("/wallboard" + location.search);
      } else {
        status.textContent = config.text["link.invalid"];
      }
    })
    .catch(() => {
      status.textContent = config.text["link.invalid"];
    });
})();
