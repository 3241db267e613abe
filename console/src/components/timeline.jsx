import { fmtDuration, fmtTime } from '../format.js';
import { useRoving } from './common.jsx';

function niceStep(span, target = 5) {
  const raw = span / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

// Items on one time axis: bars (start to end) and points (a single time). Each row is a button: a
// click or Enter opens the item; arrow keys move between rows.
//   item: { id, kind: 'bar' | 'point', name, detail, status, failed, start, end, open }
export function Timeline({ items, label, onOpen, selectedId, kindLabel }) {
  const roving = useRoving(items.length);
  if (!items.length) return <p class="muted">Nothing to show on the timeline.</p>;
  const t0 = Math.min(...items.map((i) => i.start));
  const known = items.map((i) => (i.end !== null && i.end !== undefined ? i.end : i.start));
  let t1 = Math.max(...known);
  if (items.some((i) => i.kind === 'bar' && (i.end === null || i.end === undefined))) t1 = Math.max(t1, Date.now());
  const span = Math.max(1, t1 - t0);
  const step = niceStep(span);
  const ticks = [];
  for (let t = 0; t <= span + 1e-9; t += step) ticks.push(t);
  const pct = (t) => ((t - t0) / span) * 100;

  return (
    <div class="timeline">
      <p class="muted small">
        Axis from {fmtTime(new Date(t0).toISOString(), { ms: true })} UTC, {fmtDuration(span)} in all.
      </p>
      <div class="tl-axis" aria-hidden="true">
        <span class="tl-name" />
        <span class="tl-track">
          {ticks.map((t) => (
            <span class="tl-tick" key={t} style={{ left: `${(t / span) * 100}%` }}>
              +{fmtDuration(t)}
            </span>
          ))}
        </span>
        <span class="tl-dur">duration</span>
      </div>
      <ol class="tl-rows" aria-label={label} ref={roving.ref} onKeyDown={roving.onKeyDown}>
        {items.map((it, i) => {
          const left = pct(it.start);
          const open = it.kind === 'bar' && (it.end === null || it.end === undefined);
          const end = open ? t1 : it.end ?? it.start;
          const width = it.kind === 'bar' ? Math.max(0, pct(end) - left) : 0;
          const dur = it.kind === 'bar' ? (open ? 'running' : fmtDuration(it.end - it.start)) : '';
          const what = kindLabel ? kindLabel(it) : '';
          const aria = [
            what,
            it.name,
            it.status,
            it.failed ? 'failed' : '',
            `at +${fmtDuration(it.start - t0)}`,
            it.kind === 'bar' ? (open ? 'not ended' : `took ${dur}`) : '',
          ]
            .filter(Boolean)
            .join(', ');
          return (
            <li key={`${it.kind}-${it.id}`}>
              <button
                type="button"
                class={`tl-row${it.failed ? ' failed' : ''}${selectedId === it.id ? ' selected' : ''}`}
                data-id={it.id}
                data-kind={it.type || it.kind}
                data-status={it.status}
                aria-label={aria}
                aria-current={selectedId === it.id ? 'true' : undefined}
                onClick={() => onOpen(it)}
                {...roving.itemProps(i)}
              >
                <span class="tl-name">
                  {it.failed && (
                    <span class="tl-failmark" aria-hidden="true">
                      ✕{' '}
                    </span>
                  )}
                  <span class="tl-label">{it.name}</span>
                  {it.detail && <small> {it.detail}</small>}
                </span>
                <span class="tl-track">
                  {it.kind === 'bar' ? (
                    <span
                      class={`tl-bar bar-${it.status}${open ? ' open' : ''}`}
                      style={{ left: `${left}%`, width: `max(3px, ${width}%)` }}
                    />
                  ) : (
                    <span class={`tl-point pt-${it.status}`} style={{ left: `${left}%` }} />
                  )}
                </span>
                <span class="tl-dur">{dur || fmtTime(new Date(it.start).toISOString(), { ms: true }).slice(11)}</span>
              </button>
            </li>
          );
        })}
      </ol>
    </div>
  );
}
