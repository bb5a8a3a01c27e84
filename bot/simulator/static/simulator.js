// The simulator page. What the editor does goes through the real dispatcher and
// desk (the local channel); staff replies from the console arrive by polling.
"use strict";
const $ = (id) => document.getElementById(id);
let last = 0;  // the id of the latest delivery shown

function when() {
  if ($("now").checked || !$("clock").value) return null;
  return $("clock").value + ":00+09:00";
}

function bubble(text, who) {
  const div = document.createElement("div");
  div.className = "bubble " + who;
  div.textContent = text;
  $("log").appendChild(div);
  $("log").scrollTop = $("log").scrollHeight;
}

// A tap on a button inside a message: the same postback LINE would send.
function act(action) {
  if (action.type === "clipboard") {
    if (navigator.clipboard) navigator.clipboard.writeText(action.clipboardText || "");
    return;
  }
  const shown = action.displayText || action.label;
  bubble(shown, "me");
  turn({kind: "button", data: action.data, text: shown});
}

function lineBubble(message) {
  $("log").appendChild(lineMessage(message, act));
  $("log").scrollTop = $("log").scrollHeight;
}

function showErrors(errors) {
  $("errors").hidden = !errors || errors.length === 0;
  $("errors").textContent = errors && errors.length
    ? "最後の編集は反映されていません（前の版のまま動いています）:\n" + errors.join("\n") : "";
}

function show(view) {
  showErrors(view.content_errors);
  if (view.error) { bubble("⚠ " + view.error, "bot"); return; }
  if (view.last) last = view.last;
  if (view.line) view.line.forEach(lineBubble);
  else (view.messages || []).forEach((m) => bubble(m, "bot"));
  if (!view.buttons || (!view.buttons.length && !(view.messages || []).length)) return;
  $("quick").replaceChildren(...(view.buttons || []).map((b) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = b.label;
    button.onclick = () => { bubble(b.text, "me"); turn({kind: "button", data: b.data, text: b.text}); };
    return button;
  }));
  $("state").textContent = view.state || "-";
  $("answers").textContent = JSON.stringify(view.answers || {}, null, 1) +
    (view.flags && Object.keys(view.flags).length ? "\n" + JSON.stringify(view.flags) : "");
  $("fired").textContent = (view.fired || []).join("\n") || "-";
  $("windows").replaceChildren(...(view.windows || []).map((w) => {
    const line = document.createElement("div");
    const status = w.open_now === true ? "open" : w.open_now === false ? "closed" : "unknown";
    line.className = "window " + status;
    line.dataset.id = w.id;
    line.textContent = `${w.id}: ${status === "open" ? "受付中" : status === "closed" ? "時間外" : "時間は要確認"}`;
    return line;
  }));
  if (!view.windows || !view.windows.length) $("windows").textContent = "-";
}

async function post(path, body) {
  const res = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                 body: JSON.stringify(body), credentials: "same-origin"});
  return res.json();
}

async function turn(body) {
  show(await post("/simulator/api/turn", Object.assign({at: when()}, body)));
}

$("say").onsubmit = (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  $("text").value = "";
  bubble(text, "me");
  turn({kind: "text", text});
};
$("restart").onclick = async () => {
  await post("/simulator/api/reset", {});
  $("log").replaceChildren();
  turn({kind: "follow"});
};
$("clock").onchange = () => { $("now").checked = false; };
setInterval(async () => showErrors((await (await fetch("/simulator/api/status")).json()).content_errors), 3000);
setInterval(async () => {  // staff replies, and the bot's return after them
  const view = await (await fetch("/simulator/api/messages?after=" + last)).json();
  if ((view.messages || []).length) show(view);
}, 2000);
turn({kind: "follow"});
