/**
 * The browser side of live updates (docs/controller.md, "Live updates"), served as /assets/live.js. It reads the
 * stream named by the page's `data-live` attribute and updates elements marked with data attributes: a run page's
 * nodes, log and timeline (controller/dashboard/timeline.ts: lanes are added and bars extended as nodes run), an
 * environment page's nodes table and graph (render/graph/render-svg.ts: `<g class="node state-X" data-path>` with its
 * `node-state` text; a node a run terminated is taken off both), and the runs tables. It only ever sets textContent,
 * attributes, class names, colours and links it builds itself: markup in a task's output, a node path or a repository
 * name stays text. Elements are found by comparing attribute values, never by building a selector from data.
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

  var handlers = {
    snapshot: function (d) {
      if (d.now) setNow(d.now);
      if (d.run) applyRun(d.run);
      (d.nodes || []).forEach(function (n) {
        if (d.run) {
          applyNode(n);
          applyLog(n.log);
        } else applyRecordedNode(n);
      });
      if (d.environment && d.complete) {
        // a node the page shows as recorded that is not recorded any more was terminated meanwhile
        var recorded = {};
        (d.nodes || []).forEach(function (n) { recorded[n.path] = true; });
        all('data-node-recorded').forEach(function (row) {
          var path = row.getAttribute('data-node-row');
          if (path !== null && !recorded[path]) removeNode(path);
        });
      }
      (d.tasks || []).forEach(applyTask);
      if (d.environment) applyEnvironment(d.environment);
      (d.environments || []).forEach(applyEnvironment);
      (d.runs || []).slice().reverse().forEach(applyRun);
    },
    run: applyRun,
    node: applyNode,
    log: applyLog,
    task: applyTask,
    environment: applyEnvironment,
    nodes: function (d) { d.nodes.forEach(applyRecordedNode); },
    removed: function (d) { d.paths.forEach(removeNode); },
    gone: function () {
      if (source) source.close();
      root.setAttribute('data-live-state', 'gone');
    },
  };

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
