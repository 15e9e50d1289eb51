// Small DOM helpers. Every value from the server goes into the page as text, never as HTML.

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
}

export const field = (id: string) => $<HTMLInputElement>(id);

/** An element with attributes (class, data-*, others as properties) and children (text or nodes). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: (string | Node)[]) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = String(v);
    else e.setAttribute(k, String(v));
  }
  e.append(...children);
  return e;
}

export function show(id: string, visible: boolean) {
  $(id).hidden = !visible;
}

export function text(id: string, value: string) {
  $(id).textContent = value;
}
