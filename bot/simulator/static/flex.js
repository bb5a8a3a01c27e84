// Draws LINE messages as LINE does: text bubbles, and Flex bubbles and carousels from the
// same JSON the bot sends to LINE. Only textContent and attributes are set: nothing from a
// message is ever parsed as HTML.
"use strict";

const FLEX_SIZES = {xxs: 11, xs: 12, sm: 13, md: 14, lg: 16, xl: 18, xxl: 20, "3xl": 26,
                    "4xl": 30, "5xl": 36};
const FLEX_SPACING = {none: 0, xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20};

function flexElement(tag, className) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  return el;
}

function flexSpace(value) {
  if (value === undefined) return null;
  return value in FLEX_SPACING ? FLEX_SPACING[value] + "px" : value;
}

function flexText(c) {
  const el = flexElement("div", "flex-text");
  el.textContent = c.text || "";
  el.style.fontSize = (FLEX_SIZES[c.size] || 14) + "px";
  if (c.weight === "bold") el.style.fontWeight = "bold";
  if (c.color) el.style.color = c.color;
  el.style.whiteSpace = c.wrap ? "pre-wrap" : "nowrap";
  return el;
}

function flexButton(c, act) {
  const a = c.action || {};
  const isLink = a.type === "uri";
  const el = flexElement(isLink ? "a" : "button", "flex-button " + (c.style || "link"));
  el.textContent = a.label || "";
  if (c.height === "md") el.classList.add("tall");
  if (c.color && c.style === "primary") el.style.backgroundColor = c.color;
  if (c.color && c.style !== "primary") el.style.color = c.color;
  if (isLink) {
    el.href = a.uri;
    if (!a.uri.startsWith("tel:")) { el.target = "_blank"; el.rel = "noopener noreferrer"; }
  } else {
    el.type = "button";
    el.onclick = () => act(a);
  }
  return el;
}

function flexComponent(c, act, parentLayout) {
  let el;
  if (c.type === "box") el = flexBox(c, act);
  else if (c.type === "text") el = flexText(c);
  else if (c.type === "button") el = flexButton(c, act);
  else if (c.type === "separator") el = flexElement("hr", "flex-separator");
  else el = flexElement("div", "flex-" + (c.type || "unknown"));
  if (c.margin !== undefined) {
    el.style[parentLayout === "vertical" ? "marginTop" : "marginLeft"] = flexSpace(c.margin);
  }
  if (c.flex === 0) el.style.flex = "none";
  else if (typeof c.flex === "number") el.style.flex = String(c.flex);
  return el;
}

function flexBox(box, act) {
  const el = flexElement("div", "flex-box " + (box.layout || "vertical"));
  if (box.spacing) el.style.gap = flexSpace(box.spacing);
  if (box.backgroundColor) el.style.backgroundColor = box.backgroundColor;
  if (box.cornerRadius) el.style.borderRadius = flexSpace(box.cornerRadius) || "6px";
  if (box.paddingAll) el.style.padding = box.paddingAll;
  if (box.paddingStart) el.style.paddingLeft = box.paddingStart;
  if (box.paddingEnd) el.style.paddingRight = box.paddingEnd;
  if (box.justifyContent) el.style.justifyContent = box.justifyContent;
  (box.contents || []).forEach((c) => el.appendChild(flexComponent(c, act, box.layout)));
  return el;
}

function flexBubble(bubble, act) {
  const el = flexElement("div", "flex-bubble");
  ["header", "hero", "body", "footer"].forEach((block) => {
    if (!bubble[block]) return;
    const part = flexElement("div", "flex-" + block);
    const style = (bubble.styles || {})[block] || {};
    if (style.backgroundColor) part.style.backgroundColor = style.backgroundColor;
    part.appendChild(flexComponent(bubble[block], act, "vertical"));
    el.appendChild(part);
  });
  return el;
}

// One LINE message as an element; `act(action)` runs a postback or clipboard action.
function lineMessage(message, act) {
  if (message.type !== "flex") {
    const div = flexElement("div", "bubble bot");
    div.textContent = message.text || message.altText || "";
    return div;
  }
  const contents = message.contents || {};
  const wrap = flexElement("div", "bubble bot flex " +
                           (contents.type === "carousel" ? "carousel" : "single"));
  wrap.dataset.altText = message.altText || "";
  const bubbles = contents.type === "carousel" ? contents.contents : [contents];
  bubbles.forEach((b) => wrap.appendChild(flexBubble(b, act)));
  return wrap;
}
