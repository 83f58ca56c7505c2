/** Shared look of the cards. */
export const cardCss = `
  :host { display: block; background: var(--card, #17202b); color: var(--fg, #e6edf3); border: 1px solid var(--line, #2c3a4a);
          border-radius: 10px; padding: 12px 14px; font: 13px/1.4 system-ui, sans-serif; min-width: 0; }
  h2 { font-size: 13px; margin: 0 0 8px; display: flex; justify-content: space-between; gap: 8px; color: var(--muted, #9fb1c3);
       text-transform: uppercase; letter-spacing: .04em; font-weight: 600; }
  h2 code { text-transform: none; letter-spacing: 0; color: var(--accent, #58a6ff); font-weight: 400; }
  .muted { color: var(--muted, #9fb1c3); }
  .big { font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; }
  .num { font-variant-numeric: tabular-nums; }
  button, select, input { font: inherit; color: inherit; background: #0d141c; border: 1px solid var(--line, #2c3a4a); border-radius: 6px; padding: 4px 8px; }
  button { cursor: pointer; }
  button:hover { border-color: var(--accent, #58a6ff); }
`;
