import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const STATUS_COLORS = {
  SUCCEEDED: '#12805c',
  FAILED: '#c4320a',
  CANCELLED: '#8a6100',
  RUNNING: '#1d5fd1',
  QUEUED: '#5d6b82',
};
const PALETTE = ['#1d5fd1', '#c4320a', '#12805c', '#8a6100', '#7a3fc9', '#b8336a', '#0f7a8a', '#5d6b82'];
export const colorFor = (key, i) => STATUS_COLORS[key] || PALETTE[i % PALETTE.length];

const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');

// A uPlot chart that follows the width of its container.
export function Chart({ build, deps, label, id }) {
  const ref = useRef(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    const { opts, data } = build(Math.max(320, el.clientWidth));
    const u = new uPlot({ tzDate: utc, ...opts }, data, el);
    let width = el.clientWidth;
    const ro = new ResizeObserver(() => {
      if (el.clientWidth !== width && el.clientWidth > 0) {
        width = el.clientWidth;
        u.setSize({ width: Math.max(320, width), height: opts.height });
      }
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return <div class="chart" id={id} ref={ref} role="img" aria-label={label} />;
}

const bars = uPlot.paths.bars({ size: [0.7, 48], align: 0 });

const fmtDay = uPlot.fmtDate('{MM}-{DD}');
const fmtHour = uPlot.fmtDate('{HH}:00');

function xAxis(stepSec) {
  return {
    values: (u, splits) =>
      splits.map((ts) => {
        const d = utc(ts);
        return stepSec < 86400 && (d.getHours() || d.getMinutes()) ? fmtHour(d) : fmtDay(d);
      }),
    stroke: '#344054',
    grid: { stroke: '#eaecf0' },
    ticks: { stroke: '#d0d5dd' },
    space: stepSec >= 86400 ? 70 : 60,
  };
}

function xValue(stepSec) {
  const fmt = uPlot.fmtDate(stepSec >= 86400 ? '{YYYY}-{MM}-{DD}' : '{YYYY}-{MM}-{DD} {HH}:00');
  return (u, ts) => (ts === null || ts === undefined ? '—' : `${fmt(utc(ts))} UTC`);
}

// Counts per bucket, stacked: each series is drawn as the cumulative sum up to it, the tallest first.
export function stackedBars({ width, xs, stepSec, stacks }) {
  const order = stacks.slice().reverse();
  const cum = [];
  let acc = xs.map(() => 0);
  for (const s of stacks) {
    acc = acc.map((a, i) => a + (s.values[i] || 0));
    cum.push(acc);
  }
  const data = [xs, ...cum.slice().reverse()];
  const opts = {
    width,
    height: 280,
    scales: {
      x: { time: true, range: () => [xs[0] - stepSec / 2, xs[xs.length - 1] + stepSec / 2] },
      y: { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] },
    },
    axes: [
      xAxis(stepSec),
      {
        stroke: '#344054',
        grid: { stroke: '#eaecf0' },
        ticks: { stroke: '#d0d5dd' },
        values: (u, vals) => vals.map((v) => (Number.isInteger(v) ? String(v) : '')),
        size: 50,
      },
    ],
    series: [
      { label: stepSec >= 86400 ? 'Day' : 'Hour', value: xValue(stepSec) },
      ...order.map((s) => ({
        label: s.label,
        stroke: s.color,
        fill: s.color,
        width: 0,
        paths: bars,
        points: { show: false },
        value: (u, v, si, i) => (i === null || i === undefined ? '—' : String(s.values[i] || 0)),
      })),
    ],
    cursor: { points: { show: false }, drag: { x: false, y: false } },
    legend: { live: true },
  };
  return { opts, data };
}

// Lines of durations (ms) per bucket; null leaves a gap.
export function durationLines({ width, xs, stepSec, lines, fmt }) {
  const opts = {
    width,
    height: 280,
    scales: {
      x: { time: true, range: () => [xs[0] - stepSec / 2, xs[xs.length - 1] + stepSec / 2] },
      y: { range: (u, min, max) => [0, Math.max(10, (max || 0) * 1.1)] },
    },
    axes: [
      xAxis(stepSec),
      {
        stroke: '#344054',
        grid: { stroke: '#eaecf0' },
        ticks: { stroke: '#d0d5dd' },
        values: (u, vals) => vals.map((v) => fmt(v)),
        size: 70,
      },
    ],
    series: [
      { label: stepSec >= 86400 ? 'Day' : 'Hour', value: xValue(stepSec) },
      ...lines.map((l) => ({
        label: l.label,
        stroke: l.color,
        width: 2,
        dash: l.dash,
        points: { show: true, size: 5, fill: l.color },
        value: (u, v) => (v === null || v === undefined ? '—' : fmt(v)),
      })),
    ],
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
  };
  return { opts, data: [xs, ...lines.map((l) => l.values)] };
}
