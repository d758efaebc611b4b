/** A small strict XML well-formedness check for the SVG tests (elements nest, attributes quoted, entities valid). */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_][\w.:-]*$/;
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;

function checkText(s: string, where: number): void {
  if (s.replace(ENTITY, '').includes('&')) throw new Error(`unescaped & near offset ${where}`);
  if (s.includes('<')) throw new Error(`unescaped < near offset ${where}`);
}

function parseAttrs(src: string, at: number): Record<string, string> {
  const attrs: Record<string, string> = {};
  const re = /\s+([A-Za-z_][\w.:-]*)="([^"]*)"/y;
  let i = 0;
  while (i < src.length) {
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) {
      if (src.slice(i).trim() === '') break;
      throw new Error(`bad attribute syntax near offset ${at + i}: ${src.slice(i, i + 30)}`);
    }
    if (m[1] in attrs) throw new Error(`duplicate attribute ${m[1]} near offset ${at}`);
    checkText(m[2], at + i);
    attrs[m[1]] = m[2];
    i = re.lastIndex;
  }
  return attrs;
}

/** Parses a document with one root element; throws on anything not well-formed. */
export function parseXml(doc: string): XmlElement {
  const root: XmlElement = { name: '#root', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  let i = 0;
  while (i < doc.length) {
    const lt = doc.indexOf('<', i);
    const text = doc.slice(i, lt === -1 ? doc.length : lt);
    checkText(text, i);
    stack[stack.length - 1].text += text;
    if (lt === -1) break;
    const gt = doc.indexOf('>', lt);
    if (gt === -1) throw new Error(`unterminated tag at offset ${lt}`);
    const tag = doc.slice(lt + 1, gt);
    if (tag.startsWith('/')) {
      const open = stack.pop();
      if (!open || open.name !== tag.slice(1).trim())
        throw new Error(`</${tag.slice(1)}> closes <${open?.name}> at offset ${lt}`);
    } else {
      const selfClosing = tag.endsWith('/');
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const name = body.split(/\s/, 1)[0];
      if (!NAME.test(name)) throw new Error(`bad element name ${JSON.stringify(name)} at offset ${lt}`);
      const el: XmlElement = { name, attrs: parseAttrs(body.slice(name.length), lt), children: [], text: '' };
      stack[stack.length - 1].children.push(el);
      if (!selfClosing) stack.push(el);
    }
    i = gt + 1;
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (root.children.length !== 1 || root.text.trim() !== '') throw new Error('a document has exactly one root element');
  return root.children[0];
}

/** Every element of a tree, depth first. */
export function allElements(el: XmlElement): XmlElement[] {
  return [el, ...el.children.flatMap(allElements)];
}
