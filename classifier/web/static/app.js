// Small enhancements over htmx. Every form works without this file; it only adds copy
// buttons, moves focus to what a swap brought in, remembers the agent's name and says so
// when a request fails.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  const NAME_KEY = "complaint-triage:author";
  let noticeTimer = null;

  function notify(text) {
    const notice = document.getElementById("notice");
    if (!notice) return;
    notice.textContent = text;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { notice.textContent = ""; }, 5000);
  }

  async function copyText(field) {
    try {
      await navigator.clipboard.writeText(field.value);
      return true;
    } catch (error) {
      // Clipboard API refused (older browser, no permission): the old way still works.
      field.focus();
      field.select();
      return document.execCommand("copy");
    }
  }

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    const copied = await copyText(field);
    button.dataset.copied = copied ? "yes" : "no";
    notify(copied ? "Copied to the clipboard." : "Could not copy: select the text and press Ctrl+C.");
  });

  function rememberedName() {
    try { return localStorage.getItem(NAME_KEY) || ""; } catch (error) { return ""; }
  }

  function fillNames(root) {
    const name = rememberedName();
    if (!name) return;
    root.querySelectorAll('[data-remember="author"]').forEach(function (input) {
      if (!input.value) input.value = name;
    });
  }

  document.addEventListener("input", function (event) {
    if (!event.target.matches('[data-remember="author"]')) return;
    try { localStorage.setItem(NAME_KEY, event.target.value.trim()); } catch (error) { /* private mode */ }
  });

  document.addEventListener("DOMContentLoaded", function () { fillNames(document); });

  // htmx:load fires for every piece of content a swap brings in: fill the name there and
  // move the keyboard focus to its heading or confirmation, since the button that was
  // pressed may have been replaced.
  document.addEventListener("htmx:load", function (event) {
    const element = event.detail.elt;
    if (element === document.body) return;
    fillNames(element);
    const target = element.matches("[data-focus]") ? element : element.querySelector("[data-focus]");
    if (target) target.focus();
  });

  document.addEventListener("htmx:responseError", function (event) {
    const xhr = event.detail.xhr;
    let detail = xhr.statusText;
    try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (error) { /* HTML */ }
    notify("The server answered " + xhr.status + ": " + detail);
  });

  document.addEventListener("htmx:sendError", function () {
    notify("The server could not be reached. Try again in a moment.");
  });
})();
