/**
 * The browser side of live updates (docs/controller.md, "Live updates"), served as /assets/live.js. It reads the
 * stream named by the page's `data-live` attribute and updates elements marked with data attributes: a run page's
 * nodes, log and timeline (controller/dashboard/timeline.ts: lanes are added and bars extended as nodes run), an
 * environment page's nodes table and graph (render/graph/render-svg.ts: `<g class="node state-X" data-path>` with its
 * `node-state` text; a node a run terminated is taken off both), and the runs tables. It only ever sets textContent,
 * attributes, class names, colours and links it builds itself: markup in a task's output, a node path or a repository
 * name stays text. Elements are found by comparing attribute values, never by building a selector from data.
 *
 * What events cannot say (an environment's status at a glance, a new node's row and box, the lines a terminated node
 * shared with others, task rates, releases) comes from the server: after such a change the script fetches the page's
 * own address again (at most one read at a time, coalescing the changes meanwhile) and puts in each element marked
 * `data-live-region` that the server now renders differently, as the server rendered it (escaped like any page).
 */
export const LIVE_CLIENT = String.raw`(function () {
  'use strict';
  var root = document.querySelector('[data-live]');
  if (!root || typeof EventSource === 'undefined') return;
  var source = null;
  var known = {}; // characters of each node's log on the page
  var taskIds = {};
  var finishTimer = null;

  function all(attr) {
    return Array.prototype.slice.call(document.querySelectorAll('[' + attr + ']'));
  }
  function find(attr, value) {
    return all(attr).filter(function (e) { return e.getAttribute(attr) === value; });
  }
  function first(attr, value) {
    return find(attr, value)[0] || null;
  }
  function within(parent, attr) {
    return parent.querySelector('[' + attr + ']');
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function link(href, text) {
    var a = el('a', text);
    if (typeof href === 'string' && href.charAt(0) === '/') a.setAttribute('href', href);
    return a;
  }
  function setText(e, text) {
    if (e && e.textContent !== String(text)) e.textContent = String(text);
  }
  function badge(e, state, colour) {
    if (!e) return;
    e.textContent = state;
    e.className = 'state state-' + state;
    if (colour) {
      e.style.background = colour.fill;
      e.style.borderColor = colour.stroke;
    }
  }
  function runBadge(e, r) {
    if (!e) return;
    e.textContent = r.label;
    e.className = r.badgeClass;
    e.style.background = r.colour.fill;
    e.style.borderColor = r.colour.stroke;
  }
  function newBadge(state, colour) {
    var s = el('span');
    badge(s, state, colour);
    return s;
  }
  function chars(s) {
    return Array.from(s);
  }
  function tagIs(e, name) {
    return !!e && typeof e.tagName === 'string' && e.tagName.toLowerCase() === name;
  }
  function pad2(n) {
    return (n < 10 ? '0' : '') + n;
  }
  // the same words as controller/dashboard/widgets.ts duration()
  function duration(ms) {
    if (!isFinite(ms) || ms < 0) return '-';
    if (ms < 1000) return Math.round(ms) + 'ms';
    var s = Math.round(ms / 1000);
    if (s < 60) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + pad2(s % 60) + 's';
    return Math.floor(m / 60) + 'h ' + pad2(m % 60) + 'm';
  }
  function anchorOf(path) {
    return '#node-' + String(path).replace(/[^A-Za-z0-9_.-]/g, '_');
  }

  // ---- a run's page ----
  function nodeSection(n) {
    var section = first('data-node', n.path);
    if (section) return section;
    var container = document.querySelector('[data-nodes]');
    if (!container) return null;
    var empty = container.querySelector('p.muted');
    if (empty) empty.remove();
    section = el('section');
    section.setAttribute('data-node', n.path);
    var h = el('h3', n.path + ' ');
    var b = newBadge(n.state, n.colour);
    b.setAttribute('data-node-state', n.path);
    var host = el('span', n.host || '', 'muted mono');
    host.setAttribute('data-node-host', n.path);
    var task = el('span', '', 'muted');
    task.setAttribute('data-node-task', n.path);
    h.append(b, ' ', host, ' ', task);
    var reason = el('p');
    reason.setAttribute('data-node-reason', n.path);
    var table = el('table', null, 'tasks');
    var head = el('thead');
    var tr = el('tr');
    ['Task', 'Outcome', 'Took', 'Message'].forEach(function (t) { tr.append(el('th', t)); });
    head.append(tr);
    var body = el('tbody');
    body.setAttribute('data-tasks', n.path);
    table.append(head, body);
    table.hidden = true;
    var details = el('details');
    details.setAttribute('data-log-details', n.path);
    details.append(el('summary', 'Log'));
    var pre = el('pre');
    pre.setAttribute('data-log', n.path);
    details.append(pre);
    details.hidden = true;
    details.open = true; // a node that appears while the page is open is being worked on: show its output
    section.append(h, reason, table, details);
    container.append(section);
    return section;
  }
  function applyNode(n) {
    nodeSection(n);
    timelineNode(n);
    find('data-node-state', n.path).forEach(function (e) { badge(e, n.state, n.colour); });
    find('data-node-host', n.path).forEach(function (e) { if (n.host) setText(e, n.host); });
    find('data-node-reason', n.path).forEach(function (e) { setText(e, n.reason || ''); });
    find('data-node-task', n.path).forEach(function (e) { setText(e, n.task ? 'running: ' + n.task : ''); });
  }
  function applyLog(l) {
    if (!l) return;
    var pre = first('data-log', l.path);
    if (!pre) return;
    var details = first('data-log-details', l.path);
    if (details && details.hidden) {
      details.hidden = false;
      details.open = true; // output that starts while the page is open is shown as it comes
    }
    if (l.capped) {
      if (!pre.hasAttribute('data-log-capped')) {
        pre.setAttribute('data-log-capped', '');
        pre.append('\n[live output stops here: reload the page after the run for the rest]\n');
      }
      return;
    }
    if (pre.hasAttribute('data-log-capped')) return;
    var have = known[l.path];
    if (have === undefined) {
      var attr = pre.getAttribute('data-log-length');
      have = attr !== null && /^\d+$/.test(attr) ? parseInt(attr, 10) : chars(pre.textContent).length;
    }
    var text = l.text || '';
    var end = l.from + chars(text).length;
    if (end <= have) return; // already shown
    if (l.from > have) {
      // output the page never got (a gap, or more than one message holds): say so, show the rest
      pre.append('\n[… earlier output not shown …]\n' + text);
    } else {
      pre.append(chars(text).slice(have - l.from).join(''));
    }
    known[l.path] = end;
    pre.scrollTop = pre.scrollHeight;
    var summary = details && details.querySelector('summary');
    if (summary && /^Log( \(\d+ lines\))?$/.test(summary.textContent))
      summary.textContent = 'Log (' + pre.textContent.split('\n').length + ' lines)';
  }
  function applyTask(t) {
    if (taskIds[t.id]) return;
    taskIds[t.id] = true;
    var body = first('data-tasks', t.path);
    if (!body) {
      nodeSection({ path: t.path, state: 'configuring', colour: null, host: null });
      body = first('data-tasks', t.path);
      if (!body) return;
    }
    var rows = Array.prototype.slice.call(body.rows);
    var same = rows.filter(function (r) {
      return r.getAttribute('data-task-id') === t.id;
    });
    if (same.length) return;
    // a row the page rendered already (same task name and outcome, no id) stands for this one
    var rendered = rows.filter(function (r) {
      return !r.hasAttribute('data-task-id') && !r.hasAttribute('data-task-matched') && r.cells[0] &&
        r.cells[0].textContent === t.name && r.cells[1] && r.cells[1].textContent === t.outcome;
    })[0];
    if (rendered) {
      rendered.setAttribute('data-task-matched', '');
      return;
    }
    var tr = el('tr');
    tr.setAttribute('data-task-id', t.id);
    var msg = el('td');
    if (t.message) msg.append(el('pre', t.message));
    tr.append(el('td', t.name), el('td', t.outcome), el('td', t.took), msg);
    body.append(tr);
    var table = body.closest('table');
    if (table) table.hidden = false;
  }


  // ---- a run's timeline: lanes and bars placed as controller/dashboard/timeline.ts places them ----
  var lanes = {}; // path -> the node's latest event
  var skew = 0; // the database's clock minus this browser's
  var runTimes = null;
  var timelineTimer = null;
  var drawPending = false;
  var laneEls = null; // path -> lane element, host -> group element (read from the page once)
  var groupEls = null;
  function setNow(iso) {
    var t = typeof iso === 'string' ? Date.parse(iso) : NaN;
    if (!isNaN(t)) skew = t - Date.now();
  }
  function timelineNode(n) {
    if (n.startedAt === undefined) return; // not from the stream of this run
    if (n.now) setNow(n.now);
    lanes[n.path] = n;
    scheduleDraw();
  }
  function timelineRun(r) {
    if (root.getAttribute('data-live') !== '/events/runs/' + r.id) return;
    runTimes = { startedAt: r.startedAt, finishedAt: r.finishedAt };
    scheduleDraw();
  }
  // a snapshot of many nodes is drawn once, after all of them
  function scheduleDraw() {
    if (drawPending) return;
    drawPending = true;
    setTimeout(function () {
      drawPending = false;
      drawTimeline();
    }, 0);
  }
  function indexTimeline(box) {
    if (laneEls) return;
    laneEls = {};
    groupEls = {};
    Array.prototype.slice.call(box.querySelectorAll('[data-lane]')).forEach(function (l) {
      laneEls[l.getAttribute('data-lane')] = l;
    });
    Array.prototype.slice.call(box.querySelectorAll('[data-timeline-host]')).forEach(function (g) {
      groupEls[g.getAttribute('data-timeline-host')] = g;
    });
  }
  function hostGroup(box, host) {
    var group = Object.prototype.hasOwnProperty.call(groupEls, host) ? groupEls[host] : null;
    if (group && group.parentElement) return group;
    group = el('div', null, 'host-group');
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', 'host ' + host);
    group.setAttribute('data-timeline-host', host);
    var label = el('div', host, 'host-label mono');
    label.setAttribute('title', host);
    var list = el('div');
    list.setAttribute('role', 'list');
    group.append(label, list);
    box.insertBefore(group, box.querySelector('[data-timeline-span]'));
    groupEls[host] = group;
    return group;
  }
  function laneIn(group, path) {
    var list = group.querySelector('[role="list"]') || group;
    var lane = Object.prototype.hasOwnProperty.call(laneEls, path) ? laneEls[path] : null;
    if (!lane) {
      lane = el('div', null, 'lane');
      lane.setAttribute('role', 'listitem');
      lane.setAttribute('data-lane', path);
      var name = el('div', path, 'node mono');
      name.setAttribute('title', path);
      var track = el('div', null, 'track');
      var bar = el('a', '', 'bar');
      bar.setAttribute('href', anchorOf(path));
      track.append(bar);
      lane.append(name, track);
      laneEls[path] = lane;
    }
    if (lane.parentElement !== list) list.append(lane); // new, or its host became known
    return lane;
  }
  function drawTimeline() {
    var box = document.querySelector('[data-timeline]');
    if (!box || !runTimes) return;
    indexTimeline(box);
    var started = Object.keys(lanes).map(function (p) { return lanes[p]; })
      .filter(function (n) { return n.startedAt; })
      .sort(function (a, b) { return Date.parse(a.startedAt) - Date.parse(b.startedAt); });
    var running = !runTimes.finishedAt;
    if (started.length) {
      var now = Date.now() + skew;
      var runEnd = runTimes.finishedAt ? Date.parse(runTimes.finishedAt) : null;
      var t0 = Math.min.apply(null, [Date.parse(runTimes.startedAt)].concat(started.map(function (n) {
        return Date.parse(n.startedAt);
      })));
      var end = function (n) {
        return n.finishedAt ? Date.parse(n.finishedAt) : runEnd !== null ? runEnd : now;
      };
      var t1 = Math.max.apply(null, [runEnd !== null ? runEnd : now, t0 + 1].concat(started.map(end)));
      var span = t1 - t0;
      started.forEach(function (n) {
        var lane = laneIn(hostGroup(box, n.host || '(no host)'), n.path);
        var bar = lane.querySelector('.bar');
        if (!bar) return;
        var s = Date.parse(n.startedAt);
        var e = Math.max(end(n), s);
        bar.style.left = ((100 * (s - t0)) / span).toFixed(2) + '%';
        bar.style.width = Math.max(0.5, (100 * (e - s)) / span).toFixed(2) + '%';
        if (n.colour) {
          bar.style.background = n.colour.fill;
          bar.style.borderColor = n.colour.stroke;
        }
        var what = n.path + ': ' + n.state + ' in ' + duration(e - s);
        setText(bar, n.state + ' · ' + duration(e - s));
        bar.setAttribute('title', what);
        bar.setAttribute('aria-label', what);
      });
      Object.keys(groupEls).forEach(function (host) {
        var g = groupEls[host];
        if (g.parentElement && !g.querySelector('[data-lane]')) g.remove(); // its node moved to the host it was given
      });
      setText(box.querySelector('[data-timeline-span]'), '0 — ' + duration(span));
      box.hidden = false;
      all('data-timeline-empty').forEach(function (p) { p.remove(); });
    }
    // while the run runs, bars of running nodes grow with the clock
    if (running && !timelineTimer) timelineTimer = setInterval(drawTimeline, 1000);
    if (!running && timelineTimer) {
      clearInterval(timelineTimer);
      timelineTimer = null;
    }
  }

  // ---- an environment's graph (render/graph/render-svg.ts) and nodes table ----
  function graphNodes(path) {
    return Array.prototype.slice.call(document.querySelectorAll('g.node[data-path]')).filter(function (g) {
      return g.getAttribute('data-path') === path;
    });
  }
  function applyGraphNode(n) {
    graphNodes(n.path).forEach(function (g) {
      var cls = g.getAttribute('class') || '';
      var text = g.querySelector('.node-state');
      if (!text && !/(^|\s)state-/.test(cls)) return; // drawn without states
      var next = cls.split(/\s+/).filter(function (c) { return c && c.indexOf('state-') !== 0; });
      next.push('state-' + n.state);
      if (next.join(' ') !== cls) g.setAttribute('class', next.join(' '));
      var rect = g.querySelector('rect');
      if (rect && n.colour) {
        rect.setAttribute('fill', n.colour.fill);
        rect.setAttribute('stroke', n.colour.stroke);
      }
      if (text) setText(text, n.state);
      // "PATH on HOST: STATE", in the box's title and its link's label
      var title = g.querySelector('title');
      if (title && /: [a-z]+$/.test(title.textContent)) setText(title, title.textContent.replace(/: [a-z]+$/, ': ' + n.state));
      var a = g.parentNode;
      var label = tagIs(a, 'a') ? a.getAttribute('aria-label') : null;
      if (label && /: [a-z]+$/.test(label)) a.setAttribute('aria-label', label.replace(/: [a-z]+$/, ': ' + n.state));
    });
  }
  function removeNode(path) {
    find('data-node-row', path).forEach(function (row) { row.remove(); });
    graphNodes(path).forEach(function (g) {
      var a = g.parentNode;
      if (tagIs(a, 'a') && a.children.length === 1) a.remove();
      else g.remove();
    });
    // each dependency's own path (data-from, data-to)
    Array.prototype.slice.call(document.querySelectorAll('path.edge')).forEach(function (e) {
      if (e.getAttribute('data-from') === path || e.getAttribute('data-to') === path) e.remove();
    });
    // the drawn lines, per bundle (data-from, data-to: space-separated paths): one that loses all of a side goes,
    // with its label
    Array.prototype.slice.call(document.querySelectorAll('g.bundle')).forEach(function (b) {
      var sides = ['data-from', 'data-to'].map(function (attr) {
        return (b.getAttribute(attr) || '').split(' ').filter(function (p) { return p; });
      });
      if (sides[0].indexOf(path) < 0 && sides[1].indexOf(path) < 0) return;
      var left = sides.map(function (side) { return side.filter(function (p) { return p !== path; }); });
      if (!left[0].length || !left[1].length) b.remove();
    });
  }

  // ---- runs tables, environments, nodes of an environment ----
  function applyRun(r) {
    timelineRun(r);
    find('data-run-status', r.id).forEach(function (e) { runBadge(e, r); });
    find('data-run-took', r.id).forEach(function (e) { setText(e, r.took); });
    find('data-run-summary', r.id).forEach(function (e) { setText(e, r.summary); });
    find('data-run-finished', r.id).forEach(function (e) {
      setText(e, r.status === 'running' ? '- (still running)' : r.finished + ' (' + r.took + ')');
    });
    if (root.getAttribute('data-live') === '/events/runs/' + r.id && r.status !== 'running' && !finishTimer)
      finishTimer = setTimeout(function () {
        if (source) source.close();
        root.setAttribute('data-live-state', 'done');
      }, 5000);
    all('data-runs').forEach(function (body) { runRow(body, r); });
  }
  function runRow(body, r) {
    var row = Array.prototype.slice.call(body.rows).filter(function (x) { return x.getAttribute('data-run-id') === r.id; })[0];
    if (row) return; // updated above, by its data-run-* cells
    var repo = body.getAttribute('data-runs-repository');
    var env = body.getAttribute('data-runs-environment');
    if ((repo !== null && repo !== r.repository) || (env !== null && env !== r.environment)) return;
    var newest = 0;
    Array.prototype.slice.call(body.rows).forEach(function (x) {
      var id = parseInt(x.getAttribute('data-run-id') || '0', 10);
      if (id > newest) newest = id;
    });
    if (parseInt(r.id, 10) <= newest) return; // older runs are not inserted
    var tr = el('tr');
    tr.setAttribute('data-run-id', r.id);
    var cells = [];
    var idCell = el('td');
    idCell.append(link(r.url, '#' + r.id));
    cells.push(idCell);
    if (body.getAttribute('data-runs-show-environment') !== 'false') {
      var envCell = el('td');
      envCell.append(link(r.environmentUrl, r.environment), ' ', el('span', r.repository, 'muted'));
      cells.push(envCell);
    }
    cells.push(el('td', r.kind));
    var statusCell = el('td');
    var b = el('span');
    runBadge(b, r);
    b.setAttribute('data-run-status', r.id);
    statusCell.append(b);
    cells.push(statusCell, el('td', r.shortCommit, 'mono'), el('td', r.started));
    var took = el('td', r.took);
    took.setAttribute('data-run-took', r.id);
    var summary = el('td', r.summary);
    summary.setAttribute('data-run-summary', r.id);
    cells.push(took, summary, el('td', r.trigger, 'muted'), el('td', r.releasedBy));
    cells.forEach(function (c) { tr.append(c); });
    body.insertBefore(tr, body.rows[0] || null);
    var table = body.closest('table');
    if (table && table.hidden) {
      table.hidden = false;
      var wrap = table.parentElement;
      [wrap && wrap.previousElementSibling, table.previousElementSibling].forEach(function (p) {
        if (p && p.hasAttribute('data-runs-empty')) p.remove();
      });
    }
  }
  function applyEnvironment(e) {
    all('data-env-repository').forEach(function (row) {
      if (row.getAttribute('data-env-repository') !== e.repository || row.getAttribute('data-env-name') !== e.environment) return;
      setText(within(row, 'data-env-nodes'), e.nodes);
      var states = within(row, 'data-env-states');
      if (states) {
        var parts = [];
        e.states.forEach(function (s) { parts.push(newBadge(s.state, s.colour), ' ' + s.count + ' '); });
        if (!parts.length) parts.push(el('span', 'nothing recorded', 'muted'));
        states.replaceChildren.apply(states, parts);
      }
      setText(within(row, 'data-env-commit'), e.lastCommit);
      setText(within(row, 'data-env-updated'), e.updated);
    });
  }
  function applyRecordedNode(n) {
    applyGraphNode(n);
    find('data-node-row', n.path).forEach(function (row) {
      row.setAttribute('data-node-recorded', '');
      row.querySelectorAll('[data-node-state]').forEach(function (e) { badge(e, n.state, n.colour); });
      row.querySelectorAll('[data-node-reason]').forEach(function (e) { setText(e, n.reason); });
      row.querySelectorAll('[data-node-commit]').forEach(function (e) { setText(e, n.lastCommit); });
      row.querySelectorAll('[data-node-updated]').forEach(function (e) { setText(e, n.updated); });
      row.querySelectorAll('[data-node-run]').forEach(function (e) {
        if (n.lastRunId) e.replaceChildren(link(n.lastRunUrl, '#' + n.lastRunId));
      });
    });
  }

  // ---- regions the page script cannot update from events alone (data-live-region: an environment's status at a
  // glance, graph, nodes table, task rates, releases), fetched again from the server after a structural change ----
  var REFRESH_DELAY = 700; // after the first change, so that one read takes in a burst of events
  var REFRESH_GAP = 2000; // at least between the starts of two reads; doubled after each failed read, up to a minute
  var regionCopies = Object.create(null); // name -> the region as the server last rendered it (a detached copy)
  all('data-live-region').forEach(function (r) { regionCopies[r.getAttribute('data-live-region')] = r.cloneNode(true); });
  var refreshable = Object.keys(regionCopies).length > 0 && typeof fetch === 'function' && typeof DOMParser === 'function';
  var refresh = { timer: null, busy: false, again: false, failures: 0, started: 0, done: 0, replay: null };
  // Paths the stream said are no longer recorded. While the run that terminated them runs, the server still draws them
  // (as described at the last applied commit, never applied): they are taken off what a read brings, until a read
  // that started after a run ended.
  var gone = Object.create(null);
  var runEnded = false;

  function later(fn) {
    if (refresh.replay) refresh.replay.push(fn); // applied again over what a read under way brings
  }
  function scheduleRefresh() {
    if (!refreshable) return;
    if (refresh.busy) {
      refresh.again = true;
      return;
    }
    if (refresh.timer) return;
    var gap = Math.min(60000, REFRESH_GAP * Math.pow(2, refresh.failures));
    refresh.timer = setTimeout(readPage, Math.max(REFRESH_DELAY, refresh.started + gap - Date.now()));
    root.setAttribute('data-live-refresh', 'pending');
  }
  function readPage() {
    refresh.timer = null;
    refresh.busy = true;
    refresh.again = false;
    refresh.replay = [];
    refresh.started = Date.now();
    var settled = runEnded;
    runEnded = false;
    root.setAttribute('data-live-refresh', 'loading');
    // the page's own address (with its query: it may hold the dashboard token), with the page's own credentials
    fetch(location.pathname + location.search, {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'text/html' },
    })
      .then(function (res) {
        if (!res.ok || (res.headers.get('content-type') || '').indexOf('text/html') !== 0) throw new Error('HTTP ' + res.status);
        return res.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var main = doc.querySelector('[data-live]');
        if (!main || main.getAttribute('data-live') !== root.getAttribute('data-live')) throw new Error('not this page');
        putRegions(doc, settled);
        refresh.failures = 0;
        refresh.done++;
        root.setAttribute('data-live-refreshes', String(refresh.done));
        endRead(true);
      })
      .catch(function () {
        // signed out, refused, offline: the page stays as it is; the next change tries again, later each time
        if (settled) runEnded = true;
        refresh.failures++;
        endRead(false);
      });
  }
  function endRead(ok) {
    refresh.busy = false;
    refresh.replay = null;
    var again = ok && refresh.again;
    refresh.again = false;
    root.setAttribute('data-live-refresh', ok ? 'idle' : 'failed');
    if (again) scheduleRefresh();
  }
  // Puts in each region the server renders differently from last time, keeping the size chosen for the graph, scroll
  // positions and focus. A region the server renders as before stays: events may have updated it since.
  function putRegions(doc, settled) {
    var fetched = Object.create(null);
    Array.prototype.slice.call(doc.querySelectorAll('[data-live-region]')).forEach(function (r) {
      fetched[r.getAttribute('data-live-region')] = r;
    });
    all('data-live-region').forEach(function (region) {
      var name = region.getAttribute('data-live-region');
      var next = fetched[name];
      if (!next || (regionCopies[name] && regionCopies[name].isEqualNode(next))) return;
      regionCopies[name] = next.cloneNode(true);
      var fresh = document.importNode(next, true);
      var restore = keepState(region, fresh);
      region.replaceWith(fresh);
      restore();
    });
    // what the stream said while the page was read is newer than it
    refresh.replay.forEach(function (fn) { fn(); });
    Object.keys(gone).forEach(function (path) {
      var recorded = find('data-node-row', path).some(function (row) { return row.hasAttribute('data-node-recorded'); });
      if (!settled && !recorded && (find('data-node-row', path).length || graphNodes(path).length)) removeNode(path);
      else delete gone[path];
    });
  }
  var FOCUSABLE = 'a[href], input, button, select, textarea, [tabindex]';
  function keepState(old, fresh) {
    // the graph's size (radio buttons with fixed ids)
    var zoom = Array.prototype.slice.call(old.querySelectorAll('input[type="radio"]')).filter(function (i) { return i.checked; })[0];
    if (zoom && zoom.id) {
      Array.prototype.slice.call(fresh.querySelectorAll('input[type="radio"]')).forEach(function (i) {
        if (i.id === zoom.id) i.checked = true;
      });
    }
    // boxes scrolled by the reader: the graph, wide tables
    var scrolled = Array.prototype.slice.call(old.querySelectorAll('.graph, .table-wrap')).map(function (e) {
      return [e.scrollLeft, e.scrollTop];
    });
    // focus: the same element by id, else by link target, else by position among its kind
    var active = document.activeElement;
    var target = null;
    if (active && active !== old && old.contains(active)) {
      var tag = active.tagName.toLowerCase();
      var same = Array.prototype.slice.call(fresh.querySelectorAll(FOCUSABLE)).filter(function (e) {
        return e.tagName.toLowerCase() === tag;
      });
      var href = active.getAttribute('href');
      target = (active.id && same.filter(function (e) { return e.id === active.id; })[0]) ||
        (href !== null && same.filter(function (e) { return e.getAttribute('href') === href; })[0]) ||
        same[Array.prototype.slice.call(old.querySelectorAll(FOCUSABLE)).filter(function (e) {
          return e.tagName.toLowerCase() === tag;
        }).indexOf(active)] || null;
    }
    return function () {
      Array.prototype.slice.call(fresh.querySelectorAll('.graph, .table-wrap')).forEach(function (e, i) {
        if (!scrolled[i]) return;
        e.scrollLeft = scrolled[i][0];
        e.scrollTop = scrolled[i][1];
      });
      if (target && typeof target.focus === 'function') target.focus({ preventScroll: true });
    };
  }
  // whether the environment's counts by state, last applied commit or status signature differ from what the status at a
  // glance shows
  function glanceIsOld(e) {
    var g = first('data-live-region', 'glance');
    if (!g || !e || !e.states) return false;
    var states = e.states.map(function (s) { return s.state + ' ' + s.count; }).sort().join(',');
    if (g.hasAttribute('data-live-states') && g.getAttribute('data-live-states') !== states) return true;
    // pushes, releases, the policy: what the status at a glance says beyond runs and nodes
    if (typeof e.status === 'string' && g.hasAttribute('data-live-status') && g.getAttribute('data-live-status') !== e.status)
      return true;
    return g.hasAttribute('data-live-commit') && g.getAttribute('data-live-commit') !== e.lastCommit;
  }
  // whether a run started, or ended, since the page showed it
  function runIsNews(r) {
    var shown = first('data-run-status', r.id);
    if (shown) return shown.textContent !== r.label;
    var newest = 0;
    all('data-run-id').forEach(function (x) {
      var id = parseInt(x.getAttribute('data-run-id') || '0', 10);
      if (id > newest) newest = id;
    });
    return parseInt(r.id, 10) > newest;
  }
  function unshown(nodes) {
    return nodes.some(function (n) { return !first('data-node-row', n.path); });
  }
  function applyRecordedNodes(nodes) {
    nodes.forEach(function (n) { delete gone[n.path]; });
    nodes.forEach(applyRecordedNode);
    later(function () { nodes.forEach(applyRecordedNode); });
  }
  function removeNodes(paths) {
    paths.forEach(function (p) { gone[p] = true; });
    paths.forEach(removeNode);
    later(function () { paths.forEach(removeNode); });
  }

  var handlers = {
    snapshot: function (d) {
      if (d.now) setNow(d.now);
      if (d.run) applyRun(d.run);
      if (d.run) {
        (d.nodes || []).forEach(function (n) {
          applyNode(n);
          applyLog(n.log);
        });
      } else if (d.nodes) {
        if (unshown(d.nodes)) scheduleRefresh();
        applyRecordedNodes(d.nodes);
      }
      if (d.environment && d.complete) {
        // a node the page shows as recorded that is not recorded any more was terminated meanwhile
        var recorded = {};
        (d.nodes || []).forEach(function (n) { recorded[n.path] = true; });
        var lost = all('data-node-recorded').map(function (row) { return row.getAttribute('data-node-row'); })
          .filter(function (path) { return path !== null && !recorded[path]; });
        if (lost.length) {
          scheduleRefresh();
          removeNodes(lost);
        }
      }
      (d.tasks || []).forEach(applyTask);
      if (d.environment) {
        if (glanceIsOld(d.environment)) scheduleRefresh();
        applyEnvironment(d.environment);
      }
      (d.environments || []).forEach(applyEnvironment);
      if (d.status !== undefined) statusNews(d);
      var news = refreshable ? (d.runs || []).filter(runIsNews) : [];
      if (news.some(function (r) { return r.status !== 'running'; })) runEnded = true;
      if (news.length) scheduleRefresh();
      (d.runs || []).slice().reverse().forEach(applyRun);
    },
    run: function (r) {
      if (refreshable && runIsNews(r)) {
        if (r.status !== 'running') runEnded = true;
        scheduleRefresh();
      }
      applyRun(r);
    },
    node: applyNode,
    log: applyLog,
    task: applyTask,
    environment: function (e) {
      if (glanceIsOld(e)) scheduleRefresh();
      applyEnvironment(e);
    },
    nodes: function (d) {
      if (unshown(d.nodes)) scheduleRefresh(); // a node the page has no row for: a new one
      applyRecordedNodes(d.nodes);
    },
    removed: function (d) {
      scheduleRefresh(); // the drawing's shared lines, the counts
      removeNodes(d.paths);
    },
    // the front page's status signature (pushes, releases, policies): its environments are read again when it changed
    status: statusNews,
    gone: function () {
      if (source) source.close();
      root.setAttribute('data-live-state', 'gone');
    },
  };
  function statusNews(d) {
    var r = first('data-live-region', 'environments');
    if (r && d && typeof d.status === 'string' && r.hasAttribute('data-live-status') && r.getAttribute('data-live-status') !== d.status)
      scheduleRefresh();
  }

  function connect() {
    source = new EventSource(root.getAttribute('data-live'));
    root.setAttribute('data-live-state', 'connecting');
    source.onopen = function () { root.setAttribute('data-live-state', 'open'); };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) root.setAttribute('data-live-state', 'closed');
      else root.setAttribute('data-live-state', 'connecting');
    };
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (ev) {
        var data;
        try {
          data = JSON.parse(ev.data);
        } catch (err) {
          return;
        }
        handlers[name](data);
        root.setAttribute('data-live-events', String(parseInt(root.getAttribute('data-live-events') || '0', 10) + 1));
      });
    });
  }
  connect();
})();
`;
