import { fmtInt, fmtTime } from '../format.js';

// Totals come with the first page of a listing only; remembered here for the pages after it.
const totals = new Map();
// The cursors of the pages visited, per listing, for "Previous page".
const trails = new Map();

export function listingKey(view, params) {
  const p = new URLSearchParams(params);
  p.delete('cursor');
  p.sort();
  return `${view}?${p}`;
}

export function rememberPage(key, cursor, data) {
  if (!cursor && typeof data.total === 'number') totals.set(key, { total: data.total, exact: data.totalExact !== false });
  let trail = trails.get(key);
  if (!cursor) trail = [''];
  else if (!trail) trail = [cursor];
  else if (!trail.includes(cursor)) trail.push(cursor);
  if (data.nextCursor) {
    const i = trail.indexOf(cursor || '');
    trail = trail.slice(0, i + 1);
  }
  trails.set(key, trail);
}

export function previousCursor(key, cursor) {
  const trail = trails.get(key);
  if (!cursor || !trail) return null;
  const i = trail.indexOf(cursor);
  return i > 0 ? trail[i - 1] : null;
}

export function totalOf(key) {
  return totals.get(key) || null;
}

// What the page holds, the number of all matches, a partial page and how far a search went.
export function PageSummary({ key_, cursor, data, noun, count }) {
  const n = data.items.length;
  const t = totalOf(key_);
  return (
    <div class="page-summary">
      <p id="result-summary" role="status">
        <span data-page-count={n}>
          {fmtInt(n)} {noun(n)} on this page{cursor ? ' (a later page)' : ''}
        </span>
        {t && (
          <>
            {' · '}
            <span id="result-total" data-total={t.total} data-exact={String(t.exact)}>
              {t.exact ? `${fmtInt(t.total)} ${noun(t.total)} match in all` : `at least ${fmtInt(t.total)} ${noun(t.total)} match`}
            </span>
            {!t.exact && <span class="muted"> (counting stopped at its read budget)</span>}
          </>
        )}
        {!t && count && cursor && <span class="muted"> · total counted on the first page only</span>}
      </p>
      {data.searchedUntil && (
        <p class="muted small" id="searched-until">
          Keyword search has gone through everything up to {fmtTime(data.searchedUntil)} UTC.
        </p>
      )}
      {data.partial && (
        <div class="notice partial" id="partial-notice" role="status">
          <strong>Partial page.</strong> The read budget of this request ended before the page was full
          {n ? ` (${fmtInt(n)} ${noun(n)} found so far)` : ', and nothing matched in the part read'}. The next page
          continues exactly where reading stopped: use “Next page”.
        </div>
      )}
    </div>
  );
}

export function Pager({ cursor, prev, next, onGo, partial }) {
  if (!cursor && !next) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={!cursor} onClick={() => onGo('')}>
        First page
      </button>
      <button type="button" disabled={prev === null || prev === undefined} onClick={() => onGo(prev)}>
        Previous page
      </button>
      <button type="button" class={partial ? 'primary' : ''} disabled={!next} onClick={() => onGo(next)} id="next-page">
        Next page
      </button>
    </nav>
  );
}
