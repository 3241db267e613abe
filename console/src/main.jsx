import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { apiGet, getKey, onUnauthorized, projectPath, setKey } from './api.js';
import { ErrorBox } from './components/common.jsx';
import { href, navigate, useRoute } from './route.js';
import { Execution } from './views/execution.jsx';
import { EventLogs } from './views/eventlogs.jsx';
import { Executions } from './views/executions.jsx';
import { Stats } from './views/stats.jsx';
import { Trace } from './views/trace.jsx';
import './style.css';

const PROJECT_ITEM = 'runledger.console.project';
const lastProject = () => {
  try {
    return sessionStorage.getItem(PROJECT_ITEM) || '';
  } catch {
    return '';
  }
};

function Setup({ project, message, onDone, hasKey }) {
  const [key, setKeyValue] = useState('');
  const [proj, setProj] = useState(project || lastProject());
  const [state, setState] = useState({ busy: false, error: null });
  const submit = async (e) => {
    e.preventDefault();
    const k = key.trim() || (hasKey ? getKey() : '');
    const p = proj.trim();
    if (!k || !p) {
      setState({ busy: false, error: null, missing: true });
      return;
    }
    setState({ busy: true, error: null });
    try {
      await apiGet(projectPath(p, '/workflow-executions?limit=1'), { key: k });
      setState({ busy: false, error: null });
      onDone(k, p);
    } catch (err) {
      setState({ busy: false, error: err });
    }
  };
  return (
    <section aria-labelledby="view-title" class="setup">
      <h1 id="view-title" tabIndex={-1}>
        Open a project
      </h1>
      {message && (
        <div class="error-box" role="alert">
          {message}
        </div>
      )}
      <form onSubmit={submit} class="setup-form" aria-label="API key and project">
        <div class="field wide">
          <label for="api-key">API key</label>
          <input
            id="api-key"
            name="apiKey"
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={key}
            placeholder={hasKey ? '(keep the current key)' : 'rl_…'}
            aria-describedby="api-key-hint"
            onInput={(e) => setKeyValue(e.currentTarget.value)}
          />
          <small id="api-key-hint" class="hint">
            Kept only in this tab (session storage) and sent only as “Authorization: Bearer”.
          </small>
        </div>
        <div class="field">
          <label for="project-id">Project id</label>
          <input id="project-id" name="projectId" autocomplete="off" spellcheck={false} value={proj} onInput={(e) => setProj(e.currentTarget.value)} />
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={state.busy}>
            {state.busy ? 'Checking…' : 'Open'}
          </button>
        </div>
      </form>
      {state.missing && (
        <p class="error-box" role="alert">
          Enter both an API key and a project id.
        </p>
      )}
      {state.error && <ErrorBox error={state.error} project={proj.trim()} />}
    </section>
  );
}

const NAV = [
  ['executions', 'Executions', ['executions', 'execution']],
  ['event-logs', 'Event logs', ['event-logs']],
  ['traces', 'Traces', ['trace']],
  ['stats', 'Stats', ['stats']],
];

const TITLES = {
  executions: 'Executions',
  execution: 'Execution',
  trace: 'Trace',
  'event-logs': 'Event logs',
  stats: 'Stats',
  setup: 'Open a project',
};

function App() {
  const route = useRoute();
  const [key, setKeyState] = useState(getKey());
  const [authMessage, setAuthMessage] = useState('');
  const mainRef = useRef(null);

  useEffect(
    () =>
      onUnauthorized(() => {
        setKey('');
        setKeyState('');
        setAuthMessage('The API refused the key (missing, malformed, unknown or revoked). Paste a valid key to go on.');
      }),
    [],
  );

  useEffect(() => {
    document.title = `${TITLES[route.view] || 'Not found'}${route.project ? ` · ${route.project}` : ''} · runledger`;
    if (route.project) {
      try {
        sessionStorage.setItem(PROJECT_ITEM, route.project);
      } catch {
        /* ignore */
      }
    }
  }, [route.view, route.project]);

  // Move the focus to the heading when the view changes (not when only its filters do).
  const lastView = useRef('');
  useEffect(() => {
    const v = `${route.view}:${route.executionId || ''}:${route.traceId || ''}`;
    if (lastView.current && lastView.current !== v && !route.stepId) {
      const h = mainRef.current && mainRef.current.querySelector('h1');
      if (h) h.focus({ preventScroll: false });
    }
    lastView.current = v;
  });

  const needSetup = route.view === 'setup' || !key;
  const done = (k, p) => {
    setKey(k);
    setKeyState(k);
    setAuthMessage('');
    if (route.view === 'setup' || p !== route.project) navigate(href(p, 'executions'));
  };
  const forget = () => {
    setKey('');
    setKeyState('');
    setAuthMessage('');
  };

  let view;
  if (needSetup) view = <Setup project={route.project} message={authMessage} onDone={done} hasKey={!!key} />;
  else if (route.view === 'executions') view = <Executions route={route} />;
  else if (route.view === 'execution') view = <Execution route={route} />;
  else if (route.view === 'trace') view = <Trace route={route} />;
  else if (route.view === 'event-logs') view = <EventLogs route={route} />;
  else if (route.view === 'stats') view = <Stats route={route} />;
  else
    view = (
      <section>
        <h1 tabIndex={-1}>Not found</h1>
        <p>
          This console has no such page. <a href={href(route.project, 'executions')}>Executions</a>
        </p>
      </section>
    );

  return (
    <>
      <a href="#main" class="skip" onClick={(e) => (e.preventDefault(), mainRef.current && mainRef.current.querySelector('h1')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">runledger</span>
        {route.project && !needSetup && (
          <>
            <span class="project">
              project <strong id="current-project">{route.project}</strong>
            </span>
            <nav aria-label="Views">
              {NAV.map(([path, label, views]) => (
                <a key={path} href={href(route.project, path)} aria-current={views.includes(route.view) ? 'page' : undefined}>
                  {label}
                </a>
              ))}
            </nav>
            <span class="spacer" />
            <a href="#/" class="small">
              Change project
            </a>
            <button type="button" class="link small" onClick={forget}>
              Forget key
            </button>
          </>
        )}
      </header>
      <main id="main" ref={mainRef}>
        {view}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
