// A container's terminal in its page: xterm.js, joined over a WebSocket to a shell in the
// container (terminal.ts on the other end). live.ts loads this only when the user opens one.
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';

/** The terminal's colours from the page's own (light or dark). */
function theme(): { background: string; foreground: string; cursor: string } {
  const style = getComputedStyle(document.body);
  const v = (name: string) => style.getPropertyValue(name).trim();
  return { background: v('--panel'), foreground: v('--fg'), cursor: v('--accent') };
}

/**
 * xterm.js writes its font, colours and cell sizes into <style> elements, which the page's
 * policy (style-src 'self', no inline style) blocks, with a console report each time. The
 * same rules reach the page as constructed style sheets, which that policy allows.
 */
function adoptStyles(root: HTMLElement): void {
  const sheets = new Map<HTMLStyleElement, CSSStyleSheet>();
  const sync = () => {
    for (const element of root.querySelectorAll('style')) {
      let sheet = sheets.get(element);
      if (!sheet) {
        sheet = new CSSStyleSheet();
        sheets.set(element, sheet);
        document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
      }
      sheet.replaceSync(element.textContent ?? '');
    }
  };
  new MutationObserver(sync).observe(root, { subtree: true, childList: true, characterData: true });
}

export function openTerminal(section: HTMLElement, say: (text: string) => void): void {
  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = '/assets/xterm.css';
  document.head.append(css);
  const screen = section.querySelector<HTMLElement>('.screen')!;
  screen.hidden = false;
  const term = new Terminal({ cursorBlink: true, fontSize: 14, theme: theme() });
  const fit = new FitAddon();
  term.loadAddon(fit);
  adoptStyles(screen);
  term.open(screen);
  fit.fit();
  const url = new URL(section.dataset.socket!, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('cols', String(term.cols));
  url.searchParams.set('rows', String(term.rows));
  // The size the shell was told last, for whoever reads the page (the browser test among them).
  const shown = () => (section.dataset.size = `${term.rows} ${term.cols}`);
  shown();
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const send = (message: object) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(message));
  ws.addEventListener('open', () => {
    say('Connected.');
    term.focus();
  });
  ws.addEventListener('message', (e: MessageEvent<ArrayBuffer>) => term.write(new Uint8Array(e.data)));
  ws.addEventListener('close', (e) => say(`Closed: ${e.reason || 'the connection ended'}.`));
  term.onData((data) => send({ type: 'input', data }));
  term.onResize(({ cols, rows }) => {
    send({ type: 'resize', cols, rows });
    shown();
  });
  new ResizeObserver(() => fit.fit()).observe(screen);
}
