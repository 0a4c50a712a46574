// The Jupyter widget manager typesets widget labels with MathJax 2's API
// (MathJax.Hub.Queue); the book loads MathJax 3, which has no Hub. Give it a small Hub that
// hands the request to MathJax 3 (when it has loaded), so widget pages raise no errors.
// Registered before the widget manager's own DOMContentLoaded handler, after deferred MathJax.
document.addEventListener("DOMContentLoaded", function () {
  window.MathJax = window.MathJax || {};
  if (!window.MathJax.Hub) {
    window.MathJax.Hub = {
      Queue: function () {
        if (typeof window.MathJax.typesetPromise === "function") {
          window.MathJax.typesetPromise();
        }
      },
    };
  }
});
