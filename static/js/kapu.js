// Kapu's only script of its own: keeps aria-invalid in step with the live validation messages htmx swaps in.
// The rules themselves live on the server (one source of validation); this only mirrors their outcome.
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
