/**
 * The page's four tools as tabs (WAI-ARIA tabs pattern): one panel shown at a time, so every tool
 * is one click away instead of down a 2,800 px column. The URL's hash names the open tab, so a
 * link or a reload opens it.
 */

const TAB_SELECTOR = '[role=tab][aria-controls]';

function tabs(): HTMLButtonElement[] {
  return Array.from(document.querySelectorAll<HTMLButtonElement>(TAB_SELECTOR));
}

/** Opens the tab whose panel has this id; `focus` moves the keyboard focus onto its tab. */
export function showTab(panelId: string, focus = false): void {
  const all = tabs();
  if (!all.some((tab) => tab.getAttribute('aria-controls') === panelId)) return;
  for (const tab of all) {
    const selected = tab.getAttribute('aria-controls') === panelId;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(tab.getAttribute('aria-controls')!)!.hidden = !selected;
    if (selected && focus) tab.focus();
  }
  if (location.hash !== `#${panelId}`) history.replaceState(null, '', `#${panelId}`);
}

export function setupTabs(): void {
  const all = tabs();
  all.forEach((tab, k) => {
    tab.addEventListener('click', () => showTab(tab.getAttribute('aria-controls')!));
    tab.addEventListener('keydown', (event) => {
      const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
      if (!step) return;
      event.preventDefault();
      showTab(all[(k + step + all.length) % all.length].getAttribute('aria-controls')!, true);
    });
  });
  const fromHash = () => showTab(location.hash.slice(1) || all[0].getAttribute('aria-controls')!);
  window.addEventListener('hashchange', fromHash);
  const initial = location.hash.slice(1);
  showTab(all.some((t) => t.getAttribute('aria-controls') === initial) ? initial : all[0].getAttribute('aria-controls')!);
}
