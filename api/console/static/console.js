// riskwire console: confirmations, the rule editor's live check, review-queue keys.
// Plain JavaScript, no library, no network beyond this origin.
"use strict";
(function () {
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // Every form with data-confirm asks first (promote, roll back, delete...).
  document.addEventListener("submit", function (ev) {
    const form = ev.target;
    const question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) ev.preventDefault();
  });

  // The rule editor: the API's own check, as the analyst types.
  const text = document.getElementById("rule-text");
  const status = document.getElementById("rule-status");
  if (text && status) {
    let timer = null;
    let asked = 0;
    const show = function (answer, rule) {
      status.textContent = "";
      const p = document.createElement("p");
      if (answer.valid) {
        p.className = "ok";
        p.textContent = "valid: a " + answer.action + " rule";
        status.appendChild(p);
        return;
      }
      p.className = "error";
      p.dataset.position = answer.position === null ? "" : String(answer.position);
      p.textContent = answer.cause + (answer.position === null ? "" : " at position " + answer.position);
      status.appendChild(p);
      if (answer.position !== null) {
        const pre = document.createElement("pre");
        pre.className = "caret";
        pre.textContent = rule + "\n" + " ".repeat(answer.position) + "^";
        status.appendChild(pre);
      }
    };
    const check = async function () {
      const rule = text.value;
      const mine = ++asked;
      if (!rule.trim()) { status.textContent = ""; return; }
      const response = await fetch("/ui/rules/validate", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ text: rule }),
        credentials: "same-origin",
      });
      if (mine !== asked) return; // a newer keystroke already asked
      if (response.ok) show(await response.json(), rule);
      else status.textContent = "could not check the rule (" + response.status + ")";
    };
    text.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, 200);
    });
  }

  // Keyboard: j/k move through the queue, a/f/l act on the focused review (or the page's one).
  document.addEventListener("keydown", function (ev) {
    const tag = (ev.target.tagName || "").toLowerCase();
    if (ev.ctrlKey || ev.metaKey || ev.altKey || tag === "input" || tag === "textarea" || tag === "select") return;
    const items = Array.from(document.querySelectorAll("li.review"));
    const here = document.activeElement && document.activeElement.closest ? document.activeElement.closest("li.review") : null;
    if ((ev.key === "j" || ev.key === "k") && items.length) {
      const i = items.indexOf(here);
      const next = ev.key === "j" ? Math.min(items.length - 1, i + 1) : Math.max(0, i - 1);
      items[i < 0 ? 0 : next].focus();
      ev.preventDefault();
      return;
    }
    if (ev.key === "Enter" && here && document.activeElement === here) {
      const link = here.querySelector("a");
      if (link) link.click();
      return;
    }
    if (["a", "f", "l"].includes(ev.key)) {
      const scope = here || (items.length ? null : document);
      const button = scope && scope.querySelector('button[data-key="' + ev.key + '"]');
      if (button) { button.click(); ev.preventDefault(); }
    }
  });
})();
