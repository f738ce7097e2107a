// Kitaru dashboard: the little the pages need beyond HTML and htmx.
// JSON fields say what is wrong before the form is sent; dangerous buttons ask first.
document.addEventListener("input", (event) => {
  const el = event.target;
  if (!el.matches("textarea[data-json]")) return;
  try {
    if (el.value.trim()) JSON.parse(el.value);
    el.setCustomValidity("");
  } catch (err) {
    el.setCustomValidity("not valid JSON: " + err.message);
  }
  el.reportValidity();
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
