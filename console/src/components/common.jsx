import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api.js';

export function StatusBadge({ status }) {
  const s = String(status || 'UNKNOWN').toUpperCase();
  return <span class={`badge st-${s}`}>{s}</span>;
}

export function LevelBadge({ level }) {
  const l = String(level || '').toUpperCase();
  return <span class={`badge lv-${l}`}>{l}</span>;
}

// Loads data whenever deps change; aborts the previous load. Data of other deps is never returned.
export function useLoad(loader, deps) {
  const depKey = JSON.stringify(deps);
  const [state, setState] = useState({ loading: true, data: null, error: null, key: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ac = new AbortController();
    setState({ loading: true, data: null, error: null, key: depKey });
    loader(ac.signal).then(
      (data) => !ac.signal.aborted && setState({ loading: false, data, error: null, key: depKey }),
      (error) => {
        if (!ac.signal.aborted && !(error && error.name === 'AbortError'))
          setState({ loading: false, data: null, error, key: depKey });
      },
    );
    return () => ac.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [depKey, tick]);
  const reload = () => setTick((t) => t + 1);
  if (state.key !== depKey) return { loading: true, data: null, error: null, reload };
  return { loading: state.loading, data: state.data, error: state.error, reload };
}

// The words for an error of the API (or of the network).
export function describeError(err, project) {
  if (!(err instanceof ApiError)) return { title: 'Something went wrong', text: String((err && err.message) || err) };
  if (err.network)
    return {
      title: 'The API could not be reached',
      text: 'The request failed before any answer came back (network failure or the service is down). Check the connection and retry.',
    };
  switch (err.status) {
    case 400:
      return {
        title: 'The API refused the request',
        text: `${err.apiMessage}${err.parameter ? ` (parameter “${err.parameter}”)` : ''}`,
      };
    case 401:
      return {
        title: 'The API key was refused',
        text: 'The key is missing, malformed, unknown or revoked. Paste a valid key again.',
      };
    case 403:
      return {
        title: 'This key is not for this project',
        text: `The API key belongs to another project than “${project}”. Use a key of “${project}”, or change the project.`,
      };
    case 404:
      return { title: 'Not found', text: err.apiMessage || 'Nothing exists at this address (or it has expired).' };
    case 429:
      return {
        title: 'Too many requests',
        text:
          err.retryAfter !== null
            ? `The service is out of capacity for the moment. Retry in ${err.retryAfter} second${err.retryAfter === 1 ? '' : 's'}.`
            : 'The service is out of capacity for the moment. Retry in a little while.',
      };
    default:
      return {
        title: err.status >= 500 ? 'The service failed' : `Unexpected answer (HTTP ${err.status})`,
        text: `${err.apiMessage || 'No message.'} Retry; if it persists, quote the request id.`,
      };
  }
}

export function ErrorBox({ error, project, onRetry }) {
  const { title, text } = describeError(error, project);
  const wait = error instanceof ApiError && error.status === 429 && error.retryAfter ? error.retryAfter : 0;
  const [left, setLeft] = useState(wait);
  useEffect(() => {
    setLeft(wait);
    if (!wait) return undefined;
    const started = Date.now();
    const t = setInterval(() => {
      const l = Math.max(0, wait - Math.floor((Date.now() - started) / 1000));
      setLeft(l);
      if (!l) clearInterval(t);
    }, 1000);
    return () => clearInterval(t);
  }, [error]);
  const retryable = !(error instanceof ApiError) || error.network || error.status === 429 || error.status >= 500;
  return (
    <div class="error-box" role="alert" data-status={error instanceof ApiError ? error.status : ''}>
      <strong>{title}.</strong> <span>{text}</span>
      {error instanceof ApiError && error.code && (
        <div class="muted small">
          Code <code>{error.code}</code>
          {error.requestId && (
            <>
              {' '}
              · request id <code>{error.requestId}</code>
            </>
          )}
        </div>
      )}
      {error instanceof ApiError && error.status === 403 && (
        <p>
          <a href="#/">Change the key or the project</a>
        </p>
      )}
      {retryable && onRetry && (
        <p>
          <button type="button" onClick={onRetry} disabled={left > 0}>
            {left > 0 ? `Retry (in ${left} s)` : 'Retry'}
          </button>
        </p>
      )}
    </div>
  );
}

export function Loading({ what = 'Loading' }) {
  return (
    <p class="loading" role="status">
      {what}…
    </p>
  );
}

// Arrow keys, Home and End move the focus between the items of a list (one tab stop for the list).
export function useRoving(count) {
  const [active, setActive] = useState(0);
  const ref = useRef(null);
  const current = Math.min(active, Math.max(0, count - 1));
  const onKeyDown = (e) => {
    const items = ref.current ? [...ref.current.querySelectorAll('[data-roving]')] : [];
    const i = items.indexOf(document.activeElement);
    if (i < 0) return;
    let j = null;
    if (e.key === 'ArrowDown') j = Math.min(items.length - 1, i + 1);
    else if (e.key === 'ArrowUp') j = Math.max(0, i - 1);
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = items.length - 1;
    if (j !== null) {
      e.preventDefault();
      items[j].focus();
    }
  };
  const itemProps = (i) => ({ 'data-roving': '', tabIndex: i === current ? 0 : -1, onFocus: () => setActive(i) });
  return { ref, onKeyDown, itemProps };
}

// Labelled form controls.
export function TextField({ name, label, value, onInput, placeholder, hint, type = 'text', wide }) {
  const id = `f-${name}`;
  return (
    <div class={`field${wide ? ' wide' : ''}`}>
      <label for={id}>{label}</label>
      <input
        id={id}
        name={name}
        type={type}
        value={value || ''}
        placeholder={placeholder}
        aria-describedby={hint ? `${id}-hint` : undefined}
        onInput={(e) => onInput(e.currentTarget.value)}
        autocomplete="off"
        spellcheck={false}
      />
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
    </div>
  );
}

export function SelectField({ name, label, value, onChange, options }) {
  const id = `f-${name}`;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} name={name} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {options.map(([v, text]) => (
          <option value={v} key={v}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

export function CheckGroup({ name, legend, options, values, onChange, badge }) {
  const set = new Set(values);
  return (
    <fieldset class="field checks">
      <legend>{legend}</legend>
      {options.map((o) => (
        <label key={o} class="check">
          <input
            type="checkbox"
            name={name}
            value={o}
            checked={set.has(o)}
            onChange={(e) => {
              const next = new Set(set);
              if (e.currentTarget.checked) next.add(o);
              else next.delete(o);
              onChange(options.filter((x) => next.has(x)));
            }}
          />{' '}
          {badge ? badge(o) : o}
        </label>
      ))}
    </fieldset>
  );
}

export function CheckField({ name, label, checked, onChange }) {
  return (
    <div class="field check-field">
      <label class="check">
        <input type="checkbox" name={name} checked={checked} onChange={(e) => onChange(e.currentTarget.checked)} /> {label}
      </label>
    </div>
  );
}

export const LIMITS = ['10', '25', '50', '100', '250', '500', '1000'];

export function limitOptions(current) {
  const vals = LIMITS.includes(current) || !current ? LIMITS : [...LIMITS, current].sort((a, b) => a - b);
  return vals.map((v) => [v, `${v} per page`]);
}

// The Apply / Clear buttons of a filter form.
export function FormActions({ onClear }) {
  return (
    <div class="actions">
      <button type="submit" class="primary">
        Apply filters
      </button>
      <button type="button" onClick={onClear}>
        Clear
      </button>
    </div>
  );
}

// A view's results: busy while loading, the error in words, then `render(data)` once loaded.
export function Results({ qs, res, what, project, render }) {
  return (
    <div class="results" data-query={qs} aria-busy={res.loading ? 'true' : 'false'} data-state={res.loading ? 'loading' : res.error ? 'error' : 'done'}>
      {res.loading && <Loading what={what} />}
      {res.error && <ErrorBox error={res.error} project={project} onRetry={res.reload} />}
      {res.data && render(res.data)}
    </div>
  );
}
