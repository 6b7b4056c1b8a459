// The OPSHUB projects page: the instrument jump menu goes to the chosen instrument's page.
(function () {
  "use strict";
  var jump = document.getElementById("jump");
  if (jump) {
    jump.addEventListener("change", function () {
      if (jump.value) { window.location.href = jump.value; }
    });
  }
})();
