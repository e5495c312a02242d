/* Loaded in <head> without defer, before the stylesheet paints: applies the theme the user
   chose (localStorage "theme" = "light" | "dark"); without a choice the CSS follows
   prefers-color-scheme. The toggle itself is wired in app.js. */
(function () {
  "use strict";
  try {
    var chosen = window.localStorage.getItem("theme");
    if (chosen === "light" || chosen === "dark") document.documentElement.dataset.theme = chosen;
  } catch (e) { /* storage disabled: follow the system */ }
})();
