// The console's pages: the queue and a conversation update themselves by polling.
// No inline script anywhere (the Content-Security-Policy forbids it): what a page
// needs is read from data- attributes, and text is only ever set as textContent.
"use strict";

const WHO = {"in": "相談者", "bot": "ボット", "staff": "スタッフ", "note": "メモ"};

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function queueRow(r) {
  const tr = document.createElement("tr");
  tr.dataset.id = r.id;
  const pri = document.createElement("td");
  if (r.priority) {
    const b = document.createElement("span");
    b.className = "badge p" + r.priority;
    b.textContent = r.priority_label;
    pri.appendChild(b);
  }
  const open = document.createElement("td");
  const a = document.createElement("a");
  a.href = r.url;
  a.textContent = "開く";
  open.appendChild(a);
  tr.append(pri, cell(r.person), cell(r.topic), cell(r.want), cell(r.audience),
            cell(r.waited_minutes + "分"),
            cell(r.status === "waiting" ? "待機中" : r.claimed_by + "さんが対応中"), open);
  return tr;
}

function watchQueue(body) {
  setInterval(async () => {
    const res = await fetch(body.dataset.api, {credentials: "same-origin"});
    if (!res.ok) { location.reload(); return; }
    const rows = await res.json();
    if (!rows.length) {
      const td = cell("いま待っている相談はありません。");
      td.colSpan = 8;
      const tr = document.createElement("tr");
      tr.appendChild(td);
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(...rows.map(queueRow));
  }, 3000);
}

function transcriptLine(l) {
  const div = document.createElement("div");
  div.className = "line " + l.direction;
  div.dataset.id = l.id;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = l.at + " " + (WHO[l.direction] || l.direction) +
    (l.operator ? "（" + l.operator + "）" : "");
  const text = document.createElement("div");
  text.className = "text";
  text.textContent = l.text;
  div.append(meta, text);
  return div;
}

function watchConversation(box) {
  setInterval(async () => {
    const res = await fetch(box.dataset.api + "?after=" + box.dataset.after,
                            {credentials: "same-origin"});
    if (!res.ok) return;
    const data = await res.json();
    data.lines.forEach((l) => {
      box.appendChild(transcriptLine(l));
      box.dataset.after = l.id;
    });
    if (data.handoff.status !== box.dataset.status ||
        (data.handoff.claimed_by || "") !== box.dataset.claimedBy) {
      location.reload();
    }
  }, 2000);
}

// Forms that ask before they submit carry their question in data-confirm.
document.querySelectorAll("form[data-confirm]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
});

const rows = document.getElementById("rows");
if (rows && rows.dataset.api) watchQueue(rows);
const transcript = document.getElementById("transcript");
if (transcript && transcript.dataset.api) watchConversation(transcript);
