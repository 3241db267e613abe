import { useRef, useState } from 'preact/hooks';
import { fetchBody } from '../api.js';
import { fmtBytes } from '../format.js';

const TREE_MAX_NODES = 4000;

function countNodes(v, limit) {
  let n = 0;
  const stack = [v];
  while (stack.length && n <= limit) {
    const x = stack.pop();
    n += 1;
    if (x && typeof x === 'object') for (const c of Array.isArray(x) ? x : Object.values(x)) stack.push(c);
  }
  return n;
}

function Leaf({ v }) {
  if (v === null) return <span class="j-null">null</span>;
  switch (typeof v) {
    case 'string':
      return <span class="j-str">{JSON.stringify(v)}</span>;
    case 'number':
      return <span class="j-num">{String(v)}</span>;
    case 'boolean':
      return <span class="j-bool">{String(v)}</span>;
    default:
      return <span>{String(v)}</span>;
  }
}

function Node({ name, v, depth, last }) {
  const key = name !== undefined && (
    <>
      <span class="j-key">{typeof name === 'number' ? name : JSON.stringify(name)}</span>
      <span class="j-punct">: </span>
    </>
  );
  const comma = last ? '' : ',';
  if (v && typeof v === 'object') {
    const isArr = Array.isArray(v);
    const entries = isArr ? v.map((x, i) => [i, x]) : Object.entries(v);
    const [open, close] = isArr ? ['[', ']'] : ['{', '}'];
    if (!entries.length)
      return (
        <div class="j-row">
          {key}
          <span class="j-punct">
            {open}
            {close}
            {comma}
          </span>
        </div>
      );
    const n = entries.length;
    return (
      <details class="j-node" open={depth === 0 || (depth < 3 && n <= 25)}>
        <summary>
          {key}
          <span class="j-punct">{open}</span>
          <span class="j-count">
            {' '}
            {n} {isArr ? (n === 1 ? 'item' : 'items') : n === 1 ? 'key' : 'keys'}{' '}
          </span>
        </summary>
        <div class="j-children">
          {entries.map(([k, x], i) => (
            <Node key={k} name={k} v={x} depth={depth + 1} last={i === n - 1} />
          ))}
        </div>
        <span class="j-punct">
          {close}
          {comma}
        </span>
      </details>
    );
  }
  return (
    <div class="j-row">
      {key}
      <Leaf v={v} />
      <span class="j-punct">{comma}</span>
    </div>
  );
}

// Pretty JSON as a tree of collapsible nodes (plain text when very large).
export function JsonView({ value, label }) {
  const ref = useRef(null);
  const big = countNodes(value, TREE_MAX_NODES) > TREE_MAX_NODES;
  const setAll = (open) => ref.current && ref.current.querySelectorAll('details').forEach((d) => (d.open = open));
  const isTree = value && typeof value === 'object' && !big;
  return (
    <div class="json" aria-label={label} role="group">
      {isTree && (
        <div class="json-tools">
          <button type="button" class="link" onClick={() => setAll(true)} aria-label={`Expand all of ${label}`}>
            Expand all
          </button>
          <button type="button" class="link" onClick={() => setAll(false)} aria-label={`Collapse all of ${label}`}>
            Collapse all
          </button>
        </div>
      )}
      <div class="json-body" ref={ref}>
        {isTree ? <Node v={value} depth={0} last /> : <pre>{JSON.stringify(value, null, 2)}</pre>}
      </div>
    </div>
  );
}

// Whether the API stored the body at `path` ('input', 'error.details', ...) apart and returned a
// reference to it. Only the record's `bodyRefs` says so: a producer's own data may look exactly
// like `{"$ref": {"url": ...}}` and is then shown as data, never fetched.
export function storedApart(record, path) {
  return !!record && Array.isArray(record.bodyRefs) && record.bodyRefs.includes(path);
}

function refInfo(v) {
  const r = v !== null && typeof v === 'object' && !Array.isArray(v) ? v.$ref : null;
  return r && typeof r === 'object' && typeof r.url === 'string' ? r : null;
}

async function sha256Hex(bytes) {
  if (!(globalThis.crypto && crypto.subtle)) return null;
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

// A body stored apart: its size, and a button that fetches it from its presigned URL (without the key).
function RefBody({ refInfo, label }) {
  const [state, setState] = useState({ status: 'idle' });
  const load = async () => {
    setState({ status: 'loading' });
    try {
      const bytes = await fetchBody(refInfo.url);
      const digest = await sha256Hex(bytes);
      const text = new TextDecoder().decode(bytes);
      let value;
      let json = false;
      try {
        value = JSON.parse(text);
        json = true;
      } catch {
        value = text;
      }
      setState({
        status: 'done',
        value,
        json,
        digestOk: digest === null ? null : digest === String(refInfo.sha256 || '').toLowerCase(),
        size: bytes.length,
      });
    } catch (e) {
      setState({ status: 'error', message: e.message });
    }
  };
  return (
    <div class="ref-body">
      <p>
        Stored apart: <strong>{fmtBytes(refInfo.size)}</strong>
        {refInfo.contentType && <> · {refInfo.contentType}</>}
        {refInfo.sha256 && (
          <>
            {' '}
            · sha256 <code title={refInfo.sha256}>{String(refInfo.sha256).slice(0, 12)}…</code>
          </>
        )}
      </p>
      {state.status !== 'done' && (
        <button type="button" onClick={load} disabled={state.status === 'loading'}>
          {state.status === 'loading' ? 'Loading…' : `Load ${label} (${fmtBytes(refInfo.size)})`}
        </button>
      )}
      {state.status === 'error' && (
        <p class="error-box" role="alert">
          {state.message}
        </p>
      )}
      {state.status === 'done' && (
        <>
          <p class="muted small" role="status">
            Loaded {fmtBytes(state.size)}
            {state.digestOk === true && ', sha256 matches'}
            {state.digestOk === false && <strong class="warn"> — sha256 does not match the record</strong>}
          </p>
          {state.json ? <JsonView value={state.value} label={label} /> : <pre class="json-body">{state.value}</pre>}
        </>
      )}
    </div>
  );
}

// A body: the JSON itself, or, when `stored` (the record lists it in `bodyRefs`), its reference.
export function Body({ value, label, stored = false }) {
  if (value === null || value === undefined) return <p class="muted">None.</p>;
  const ref = stored ? refInfo(value) : null;
  if (ref) return <RefBody refInfo={ref} label={label} />;
  return <JsonView value={value} label={label} />;
}

// `detailsStored`: the record lists `error.details` in `bodyRefs`.
export function ErrorView({ error, label = 'error details', detailsStored = false }) {
  if (!error) return null;
  return (
    <div class="error-view">
      <p>
        {error.code && (
          <>
            <code class="err-code">{error.code}</code>{' '}
          </>
        )}
        <span class="err-msg">{error.message}</span>
      </p>
      {error.details !== undefined && error.details !== null && (
        <details open>
          <summary>Details</summary>
          <Body value={error.details} label={label} stored={detailsStored} />
        </details>
      )}
    </div>
  );
}
