// Kapu's only script of its own. Everything here is an enhancement: every page works the same with it off.
// - keeps aria-invalid in step with the live validation messages htmx swaps in (the rules live on the server);
// - moves the focus to the error summary of a page that came back with errors, and from its links to the field;
// - adds a Show/Hide button to password fields (the GOV.UK "password input" pattern);
// - starts no live check while a submit button is held down (below).
(function () {
  "use strict";

  document.addEventListener("htmx:after:swap", function (event) {
    // htmx 4 fires the event on the element that asked (the input); the swapped region is the request target.
    var region = (event.detail && event.detail.ctx && event.detail.ctx.target) || event.target;
    if (!region || !region.id || region.id.slice(-6) !== "-error") {
      return;
    }
    var input = document.querySelector('[aria-describedby~="' + region.id + '"]');
    if (!input) {
      return;
    }
    var invalid = region.textContent.trim() !== "";
    if (invalid) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
    var wrapper = input.closest(".field");
    if (wrapper) {
      wrapper.classList.toggle("field--invalid", invalid);
    }
  });

  // Pressing a submit button leaves the field being typed in, and its change asks for a live check. A message
  // swapped in above the button while it is held moves it from under the pointer: letting go there sends nothing,
  // and the press is lost. The form is being sent and its answer shows every message, so while a submit button is
  // held no live check of its form starts. Let go elsewhere, and the field is checked at its next change.
  var heldForm = null;

  document.addEventListener(
    "pointerdown",
    function (event) {
      var button = event.target.closest && event.target.closest("button[type=submit], input[type=submit]");
      heldForm = button ? button.form : null;
    },
    true
  );

  function letGo() {
    setTimeout(function () {
      heldForm = null; // after the click, which the browser fires in the same task as the pointerup
    }, 0);
  }
  document.addEventListener("pointerup", letGo, true);
  document.addEventListener("pointercancel", letGo, true);

  document.addEventListener("htmx:before:request", function (event) {
    if (heldForm && heldForm.contains(event.target)) {
      event.preventDefault();
    }
  });

  // The summary of a full page load takes the focus, so a screen reader reads it first and the keyboard
  // starts there. Only on load: live (htmx) messages never move the focus.
  function focusErrorSummary() {
    var summary = document.querySelector(".error-summary");
    if (summary) {
      summary.focus();
    }
  }

  // A summary link focuses its field and shows the field's label above it (a plain #fragment jump would
  // only scroll, leaving the focus behind and the label off screen).
  function followSummaryLink(event) {
    var link = event.target.closest(".error-summary a[href^='#']");
    if (!link) {
      return;
    }
    var input = document.getElementById(link.getAttribute("href").slice(1));
    if (!input) {
      return;
    }
    event.preventDefault();
    var label = document.querySelector('label[for="' + input.id + '"]');
    (label || input).scrollIntoView();
    input.focus({ preventScroll: true });
  }

  // Show/Hide for a password field. The words come from the field's data-* attributes, written by the
  // server in the page's language (data-show, data-hide, data-show-label, data-hide-label, data-shown,
  // data-hidden).
  function addPasswordToggle(input) {
    var words = input.dataset;
    var wrapper = document.createElement("div");
    wrapper.className = "password-input";
    input.parentNode.insertBefore(wrapper, input);
    wrapper.appendChild(input);

    var button = document.createElement("button");
    button.type = "button";
    button.className = "password-input__toggle";
    button.setAttribute("aria-controls", input.id);
    wrapper.appendChild(button);

    var status = document.createElement("div");
    status.className = "visually-hidden";
    status.setAttribute("aria-live", "polite");
    wrapper.appendChild(status);

    input.setAttribute("autocapitalize", "none");
    input.setAttribute("spellcheck", "false");

    function show(visible, announce) {
      input.type = visible ? "text" : "password";
      button.textContent = visible ? words.hide : words.show;
      button.setAttribute("aria-label", visible ? words.hideLabel : words.showLabel);
      if (announce) {
        status.textContent = visible ? words.shown : words.hidden;
      }
    }

    show(false, false);
    button.addEventListener("click", function () {
      show(input.type === "password", true);
    });
    // Never send or keep a password shown as text: browsers would offer to remember it as plain input,
    // and a page restored from the back/forward cache would show it.
    if (input.form) {
      input.form.addEventListener("submit", function () {
        show(false, false);
      });
    }
    window.addEventListener("pageshow", function () {
      show(false, false);
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("input[type=password][data-show]"), addPasswordToggle);
    document.addEventListener("click", followSummaryLink);
    focusErrorSummary();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
