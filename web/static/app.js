// MCU web client: joins a room over the websocket protocol (docs/protocol.md),
// sends camera and microphone, plays the room's mixed stream, and drives the
// operator API. Plain JS, no build step.
'use strict';

const $ = (sel) => document.querySelector(sel);

// State read by the browser tests.
const mcu = window.mcu = { state: 'idle', participantId: null, room: null, lastRecording: null };
// The current websocket, for tests and debugging.
Object.defineProperty(mcu, 'ws', { get: () => sess && sess.ws });

let local = null;        // MediaStream from the camera and microphone
let screenTrack = null;  // while sharing the screen
let sess = null;         // the current connection: {ws, pc, videoSender, audioSender}
let people = new Map();  // participant id -> {id, name, video, audio}
let retries = 0;
let retryTimer = null;
let pollTimer = null;
const recRows = new Map(); // recording id -> <li>

// ---- messages ----

function say(text, isError) {
  const s = $('#status');
  s.textContent = text;
  s.classList.toggle('error', !!isError);
}

function setState(st) {
  mcu.state = st;
  document.body.dataset.state = st;
  const inRoom = st !== 'idle' && st !== 'left';
  $('#join-panel').hidden = inRoom;
  $('#room-panel').hidden = !inRoom;
  document.querySelectorAll('.in-room').forEach((el) => { el.hidden = !inRoom; });
}

// ---- devices ----

function constraint(value) {
  if (value === 'none') return false;
  if (value === 'default') return true;
  return { deviceId: { exact: value } };
}

// mediaNote says why this participant sends less than it asked for; it
// stays on #status while in the room.
let mediaNote = '';

// getMedia asks for the chosen devices. It returns a stream or null and
// explains on #status what went wrong.
async function getMedia() {
  mediaNote = '';
  const fail = (note) => { mediaNote = note; say(note, true); return null; };
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return fail('Receive-only: this page can use a camera only over HTTPS or on localhost.');
  }
  const video = constraint($('#camera').value);
  const audio = constraint($('#microphone').value);
  if (!video && !audio) return null;
  try {
    return await navigator.mediaDevices.getUserMedia({ video, audio });
  } catch (err) {
    switch (err.name) {
      case 'NotAllowedError':
        return fail('Receive-only: camera and microphone permission was denied. Allow them in the browser\'s site settings and reload to send.');
      case 'NotFoundError':
      case 'OverconstrainedError':
        // Maybe only one of the two exists.
        if (video && audio) {
          for (const [c, note] of [[{ audio }, 'No camera found: sending sound only.'], [{ video }, 'No microphone found: sending video only.']]) {
            try {
              const s = await navigator.mediaDevices.getUserMedia(c);
              mediaNote = note;
              say(note, true);
              return s;
            } catch (_) { /* try the next */ }
          }
        }
        return fail('Receive-only: no camera or microphone found.');
      case 'NotReadableError':
        return fail('Receive-only: the camera or microphone is in use by another program.');
    }
    return fail('Receive-only: could not open camera or microphone (' + err.message + ').');
  }
}

// sayInRoom shows a room message with the media note, if any.
function sayInRoom(text) {
  say(mediaNote ? `${text} ${mediaNote}` : text, !!mediaNote);
}

async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  const devs = await navigator.mediaDevices.enumerateDevices();
  for (const [sel, kind, label] of [['#camera', 'videoinput', 'Camera'], ['#microphone', 'audioinput', 'Microphone']]) {
    const el = $(sel);
    const keep = el.value;
    el.querySelectorAll('option.device').forEach((o) => o.remove());
    let n = 0;
    for (const d of devs) {
      if (d.kind !== kind || !d.deviceId || d.deviceId === 'default') continue;
      const o = document.createElement('option');
      o.className = 'device';
      o.value = d.deviceId;
      o.textContent = d.label || `${label} ${++n}`;
      el.append(o);
    }
    el.value = keep;
    if (el.value !== keep) el.value = 'default';
  }
}

async function openPreview() {
  if (local) local.getTracks().forEach((t) => t.stop());
  local = await getMedia();
  $('#preview').srcObject = local;
  await listDevices().catch(() => {});
  return local;
}

// ---- joining ----

function wsURL() {
  return (location.protocol === 'https:' ? 'wss' : 'ws') + '://' + location.host + '/ws';
}

function send(msg) {
  if (sess && sess.ws.readyState === WebSocket.OPEN) sess.ws.send(JSON.stringify(msg));
}

function join() {
  const room = $('#room').value.trim();
  const name = $('#name').value.trim();
  if (!$('#join-form').reportValidity()) return;
  mcu.room = room;
  mcu.name = name;
  retries = 0;
  const u = new URL(location.href);
  u.searchParams.set('room', room);
  u.searchParams.set('name', name);
  u.searchParams.delete('autojoin');
  history.replaceState(null, '', u);
  $('#room-title').textContent = 'Room ' + room;
  connect();
}

function connect() {
  clearTimeout(retryTimer);
  hangUp();
  setState(mcu.state === 'reconnecting' ? 'reconnecting' : 'joining');
  if (mcu.state === 'joining') sayInRoom(`Joining ${mcu.room}…`);
  const s = { ws: new WebSocket(wsURL()), pc: null, videoSender: null, audioSender: null, closed: false, queue: Promise.resolve() };
  sess = s;
  s.ws.onopen = () => send({ type: 'join', room: mcu.room, name: mcu.name });
  // Messages are handled one at a time, in order: an answer is applied
  // before the candidates that follow it.
  s.ws.onmessage = (ev) => {
    s.queue = s.queue.then(() => (s.closed ? null : onMessage(s, JSON.parse(ev.data))))
      .catch((err) => say('Error handling a server message: ' + err.message, true));
  };
  s.ws.onclose = () => { if (!s.closed) lost('the connection to the server closed'); };
}

// hangUp closes the current connection without reconnecting.
function hangUp() {
  const s = sess;
  sess = null;
  if (!s) return;
  s.closed = true;
  if (s.pc) s.pc.close();
  if (s.ws.readyState <= WebSocket.OPEN) s.ws.close(1000);
}

// lost schedules a rejoin with exponential backoff (0.5 s doubling to 10 s).
function lost(why) {
  hangUp();
  if (mcu.state === 'left' || mcu.state === 'idle') return;
  setState('reconnecting');
  const delay = Math.min(10000, 500 * 2 ** retries);
  retries++;
  say(`Connection lost (${why}). Reconnecting in ${Math.round(delay / 100) / 10} s (attempt ${retries})…`, true);
  retryTimer = setTimeout(connect, delay);
}

async function onMessage(s, m) {
  switch (m.type) {
    case 'joined':
      mcu.participantId = m.participant_id;
      people = new Map((m.participants || []).map((p) => [p.id, p]));
      renderPeople();
      setSettings(m.quality, m.fps);
      setView(m.layout_mode, m.pinned);
      setState('joined');
      sayInRoom(`Joined ${m.room} as ${mcu.name}. Connecting media…`);
      startPolling();
      try { await negotiate(s); } catch (err) { say('Media negotiation failed: ' + err.message, true); }
      break;
    case 'answer':
      await s.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      break;
    case 'offer': // renegotiation by the server
      await s.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      await s.pc.setLocalDescription(await s.pc.createAnswer());
      send({ type: 'answer', sdp: s.pc.localDescription.sdp });
      break;
    case 'candidate':
      if (s.pc && m.candidate) await s.pc.addIceCandidate(m.candidate).catch(() => {});
      break;
    case 'participant_joined':
      people.set(m.participant.id, m.participant);
      renderPeople();
      break;
    case 'participant_left':
      people.delete(m.participant.id);
      renderPeople();
      break;
    case 'participant_updated':
      people.set(m.participant.id, m.participant);
      renderPeople();
      break;
    case 'speakers':
      speaking = new Set((m.speakers || []).map((sp) => sp.participant_id));
      renderPeople();
      break;
    case 'view':
      setView(m.layout_mode, m.pinned);
      break;
    case 'settings':
      setSettings(m.quality, m.fps);
      say(`Room output is now ${m.quality} at ${m.fps} fps.`);
      break;
    case 'recording':
      if (m.recording && m.recording.id && m.recording.room === mcu.room) {
        showRecording(m.recording);
        if (mcu.lastRecording && mcu.lastRecording.id === m.recording.id) mcu.lastRecording = m.recording;
      } else {
        refreshRecordings();
      }
      break;
    case 'error':
      onError(m);
      break;
  }
}

function onError(m) {
  if (m.code === 'room_full') {
    if (mcu.state === 'reconnecting') { // our old seat may not be free yet
      lost(`room ${mcu.room} is full`);
      return;
    }
    hangUp();
    setState('idle');
    say(`Room ${mcu.room} is full. Try again later or choose another room.`, true);
    return;
  }
  if (mcu.state === 'joining' || mcu.state === 'reconnecting') {
    hangUp();
    setState('idle');
    say('Could not join: ' + m.message, true);
    return;
  }
  say(`Server error (${m.code}): ${m.message}`, true);
}

function outgoingVideo() {
  if (screenTrack) return screenTrack;
  return local ? local.getVideoTracks()[0] || null : null;
}

async function negotiate(s) {
  const pc = new RTCPeerConnection();
  s.pc = pc;
  const mic = local ? local.getAudioTracks()[0] : null;
  const cam = outgoingVideo();
  const stream = local || new MediaStream();
  // Always one sendrecv transceiver per kind, so the server can send the
  // composite even to a participant without a camera or a microphone.
  const vt = pc.addTransceiver(cam || 'video', { direction: 'sendrecv', streams: [stream] });
  const at = pc.addTransceiver(mic || 'audio', { direction: 'sendrecv', streams: [stream] });
  s.videoSender = vt.sender;
  s.audioSender = at.sender;

  const mixed = new MediaStream();
  pc.ontrack = (ev) => {
    mixed.addTrack(ev.track);
    const v = $('#mixed');
    if (v.srcObject !== mixed) v.srcObject = mixed;
    v.play().catch((err) => {
      if (err.name === 'NotAllowedError') say('The browser blocked playback with sound: click the video to start it.', true);
    });
  };
  pc.onconnectionstatechange = () => {
    if (s.closed) return;
    switch (pc.connectionState) {
      case 'connected':
        retries = 0;
        setState('connected');
        sayInRoom(`In room ${mcu.room} as ${mcu.name}.`);
        break;
      case 'failed':
        lost('media connection failed');
        break;
      case 'disconnected':
        setTimeout(() => { if (!s.closed && pc.connectionState === 'disconnected') lost('media connection interrupted'); }, 4000);
        break;
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc, 3000);
  if (s.closed) return;
  send({ type: 'offer', sdp: pc.localDescription.sdp });
}

// gathered resolves when ICE gathering is complete or after ms.
function gathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
    });
  });
}

function leave() {
  clearTimeout(retryTimer);
  send({ type: 'leave' });
  hangUp();
  stopSharing(false);
  stopPolling();
  $('#mixed').srcObject = null;
  people.clear();
  renderPeople();
  mcu.participantId = null;
  setState('left');
  say(`You left ${mcu.room}.`);
}

function renderPeople() {
  const ul = $('#participants');
  ul.replaceChildren(...[...people.values()].map((p) => {
    const li = document.createElement('li');
    li.dataset.id = p.id;
    const off = [!p.video && 'no video', !p.audio && 'no audio'].filter(Boolean).join(', ');
    li.textContent = p.name + (p.id === mcu.participantId ? ' (you)' : '') + (off ? ` — ${off}` : '') +
      (p.screen ? ' — sharing screen' : '') + (speaking.has(p.id) ? ' — speaking' : '');
    li.classList.toggle('speaking', speaking.has(p.id));
    return li;
  }));
  const pin = $('#pinned');
  const keep = pin.value;
  pin.replaceChildren(new Option('Active speaker', ''), ...[...people.values()].map((p) => new Option(p.name, p.id)));
  pin.value = keep;
}

// speaking holds the ids of the active speakers ("speakers" events).
let speaking = new Set();

function setView(layout, pinned) {
  if (layout) $('#layout').value = layout;
  if (pinned !== undefined && pinned !== null) $('#pinned').value = pinned;
}

async function applyLayout() {
  const body = { layout: $('#layout').value, pinned: $('#pinned').value };
  try {
    await api('PUT', `/api/rooms/${encodeURIComponent(mcu.room)}`, body);
    say(`Layout set to ${body.layout}.`);
  } catch (err) {
    say('Could not change the layout: ' + err.message, true);
  }
}

// ---- call controls ----

function toggleTrack(kind, btn, onText, offText) {
  const track = kind === 'audio' ? local && local.getAudioTracks()[0] : local && local.getVideoTracks()[0];
  if (!track) { say(`You have no ${kind === 'audio' ? 'microphone' : 'camera'}.`, true); return; }
  track.enabled = !track.enabled;
  btn.setAttribute('aria-pressed', String(!track.enabled));
  btn.textContent = track.enabled ? onText : offText;
  // Tell the server, so that the others see the placeholder with our name
  // rather than a black picture.
  send({ type: 'mute', [kind]: !track.enabled });
}

async function toggleShare() {
  if (screenTrack) { await stopSharing(true); return; }
  if (!navigator.mediaDevices.getDisplayMedia) { say('Screen sharing is not supported by this browser.', true); return; }
  try {
    const s = await navigator.mediaDevices.getDisplayMedia({ video: true });
    screenTrack = s.getVideoTracks()[0];
  } catch (err) {
    say(err.name === 'NotAllowedError' ? 'Screen sharing was cancelled.' : 'Could not share the screen: ' + err.message, true);
    return;
  }
  screenTrack.onended = () => stopSharing(true);
  if (sess && sess.videoSender) await sess.videoSender.replaceTrack(screenTrack);
  // The track replaces the camera: only this message tells the server it
  // is a share, for the presenter layout.
  send({ type: 'share', screen: true });
  $('#preview').srcObject = new MediaStream([screenTrack]);
  $('#share-screen').setAttribute('aria-pressed', 'true');
  $('#share-screen').textContent = 'Stop sharing';
}

async function stopSharing(restore) {
  if (!screenTrack) return;
  screenTrack.onended = null;
  screenTrack.stop();
  screenTrack = null;
  if (restore && sess && sess.videoSender) await sess.videoSender.replaceTrack(outgoingVideo());
  send({ type: 'share', screen: false });
  $('#preview').srcObject = local;
  $('#share-screen').setAttribute('aria-pressed', 'false');
  $('#share-screen').textContent = 'Share screen';
}

// ---- operator panel ----

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  if (r.status === 204) return null;
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || `${method} ${path}: HTTP ${r.status}`);
  return data;
}

function setSettings(quality, fps) {
  if (quality) $('#quality').value = quality;
  if (fps) $('#fps').value = String(fps);
}

async function applySettings() {
  const body = { quality: $('#quality').value, fps: Number($('#fps').value) };
  try {
    await api('PUT', `/api/rooms/${encodeURIComponent(mcu.room)}`, body);
    say(`Room output set to ${body.quality} at ${body.fps} fps.`);
  } catch (err) {
    say('Could not change the output: ' + err.message, true);
  }
}

async function startRecording() {
  const body = { format: $('#rec-format').value, audio_only: $('#rec-audio-only').checked };
  if ($('#rec-quality').value) body.quality = $('#rec-quality').value;
  if ($('#rec-fps').value) body.fps = Number($('#rec-fps').value);
  if ($('#rec-name').value.trim()) body.name = $('#rec-name').value.trim();
  if ($('#rec-layout').value) body.layout = $('#rec-layout').value;
  const exclude = $('#rec-exclude').value.split(',').map((s) => s.trim()).filter(Boolean);
  if (exclude.length) body.exclude = exclude;
  try {
    const rec = await api('POST', `/api/rooms/${encodeURIComponent(mcu.room)}/recordings`, body);
    mcu.lastRecording = rec;
    $('#rec-stop').disabled = false;
    say(`Recording ${rec.name || rec.id} started.`);
    showRecording(rec);
  } catch (err) {
    say('Could not start recording: ' + err.message, true);
  }
}

async function stopRecording(id) {
  try {
    const rec = await api('POST', `/api/recordings/${encodeURIComponent(id)}/stop`);
    if (mcu.lastRecording && mcu.lastRecording.id === id) {
      mcu.lastRecording = rec;
      $('#rec-stop').disabled = true;
    }
    say(`Recording ${rec.name || rec.id} stopped.`);
    showRecording(rec);
  } catch (err) {
    say('Could not stop recording: ' + err.message, true);
  }
}

async function deleteRecording(id) {
  try {
    await api('DELETE', `/api/recordings/${encodeURIComponent(id)}`);
    const li = recRows.get(id);
    if (li) li.remove();
    recRows.delete(id);
  } catch (err) {
    say('Could not delete recording: ' + err.message, true);
  }
}

// refreshRoom takes the participant list, with who is sending what, from
// the room's live statistics.
async function refreshRoom() {
  if (mcu.state !== 'joined' && mcu.state !== 'connected') return;
  try {
    const info = await api('GET', `/api/rooms/${encodeURIComponent(mcu.room)}`);
    people = new Map((info.participants || []).map((p) => [p.id, p]));
    renderPeople();
  } catch (_) { /* the websocket events keep the list meanwhile */ }
}

async function refreshRecordings() {
  let list;
  try {
    list = (await api('GET', '/api/recordings')).recordings || [];
  } catch (_) {
    return; // the list is a convenience; the next poll tries again
  }
  const seen = new Set();
  for (const rec of list) {
    if (rec.room !== mcu.room) continue;
    seen.add(rec.id);
    showRecording(rec);
    if (mcu.lastRecording && mcu.lastRecording.id === rec.id) {
      mcu.lastRecording = rec;
      $('#rec-stop').disabled = rec.state !== 'recording';
    }
  }
  for (const [id, li] of recRows) {
    if (!seen.has(id)) { li.remove(); recRows.delete(id); }
  }
  // Newest first, as the API lists them. Rows move only when out of
  // order: moving a row would pause its preview.
  const ul = $('#recordings');
  let at = ul.firstElementChild;
  for (const rec of list) {
    const li = recRows.get(rec.id);
    if (!li) continue;
    if (li !== at) ul.insertBefore(li, at);
    else at = at.nextElementSibling;
  }
}

function fmtDuration(s) {
  s = Math.round(s || 0);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function fmtSize(b) {
  if (!b) return '0 B';
  const u = ['B', 'KB', 'MB', 'GB'];
  const i = Math.min(u.length - 1, Math.floor(Math.log(b) / Math.log(1024)));
  return `${(b / 1024 ** i).toFixed(i ? 1 : 0)} ${u[i]}`;
}

// showRecording adds or updates one row of #recordings in place, so that a
// preview being watched is not reloaded by the poll.
function showRecording(rec) {
  let li = recRows.get(rec.id);
  if (!li) {
    li = document.createElement('li');
    li.dataset.id = rec.id;
    li.innerHTML = '<div class="rec-head"><strong class="rec-name"></strong> <span class="rec-state"></span></div>' +
      '<div class="rec-meta"></div>' +
      '<div class="row"><a class="rec-download button" download>Download</a>' +
      '<button type="button" class="rec-action"></button></div>';
    const media = document.createElement(rec.audio_only ? 'audio' : 'video');
    media.className = 'rec-preview';
    media.controls = true;
    // A running recording loads only when played: a prefix fetched now
    // would not play once the file is finished.
    media.preload = rec.state === 'recording' ? 'none' : 'metadata';
    media.src = previewURL(rec);
    media.setAttribute('aria-label', 'Preview of ' + (rec.name || rec.id));
    li.append(media);
    li.querySelector('.rec-action').onclick = () => {
      if (li.dataset.state === 'recording') stopRecording(rec.id); else deleteRecording(rec.id);
    };
    recRows.set(rec.id, li);
    $('#recordings').prepend(li);
  }
  const was = li.dataset.state;
  li.dataset.state = rec.state;
  li.querySelector('.rec-name').textContent = rec.name || rec.id;
  li.querySelector('.rec-state').textContent = rec.state;
  li.querySelector('.rec-meta').textContent = [rec.audio_only ? 'audio only' : `${rec.quality} ${rec.fps} fps`,
    rec.format, fmtDuration(rec.duration_s), fmtSize(rec.size_bytes)].join(' · ');
  li.querySelector('.rec-download').href = rec.download_url;
  li.querySelector('.rec-action').textContent = rec.state === 'recording' ? 'Stop' : 'Delete';
  const media = li.querySelector('.rec-preview');
  if (was === 'recording' && rec.state !== 'recording' && media.paused) {
    media.src = previewURL(rec); // the whole, finished file
    media.preload = 'metadata';
  }
  addTimeline(media, rec);
}

// addTimeline shows a finished recording's speaker timeline as a text
// track of its preview.
function addTimeline(media, rec) {
  if (rec.state !== 'finished' || !rec.timeline_url || media.querySelector('track')) return;
  const t = document.createElement('track');
  t.kind = 'subtitles';
  t.label = 'Who speaks';
  t.srclang = 'und';
  t.src = rec.timeline_url;
  t.default = true;
  media.append(t);
}

// previewURL differs between a running and a finished recording, because
// Chromium's media cache would otherwise keep serving the running prefix.
function previewURL(rec) {
  const u = new URL(rec.download_url, location.href);
  u.searchParams.set('v', rec.state === 'recording' ? 'live' : 'final');
  return u.pathname + u.search;
}

function poll() {
  refreshRoom();
  refreshRecordings();
}

function startPolling() {
  stopPolling();
  poll();
  pollTimer = setInterval(poll, 2000);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

// ---- recording in the browser ----

const localRec = { recorder: null, chunks: [], bytes: 0, url: null };

function localRecStart() {
  const stream = $('#mixed').srcObject;
  if (!stream || !stream.getTracks().length || typeof MediaRecorder === 'undefined') {
    say('Nothing to record yet: the room\'s stream has not arrived.', true);
    return;
  }
  localRecFree();
  const type = ['video/webm;codecs=vp8,opus', 'video/webm'].find((t) => MediaRecorder.isTypeSupported(t));
  const rec = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
  localRec.recorder = rec;
  rec.ondataavailable = (ev) => {
    if (!ev.data.size) return;
    localRec.chunks.push(ev.data);
    localRec.bytes += ev.data.size;
    $('#local-rec-info').textContent = `Recording in this browser: ${fmtSize(localRec.bytes)} in memory.`;
  };
  rec.onstop = () => {
    const blob = new Blob(localRec.chunks, { type: rec.mimeType || 'video/webm' });
    localRec.url = URL.createObjectURL(blob);
    const v = $('#local-rec-video');
    v.src = localRec.url;
    v.hidden = false;
    const a = $('#local-rec-download');
    a.href = localRec.url;
    a.download = `mcu-${mcu.room}-${new Date().toISOString().replace(/[:.]/g, '-')}.webm`;
    a.hidden = false;
    $('#local-rec-free').disabled = false;
    $('#local-rec-info').textContent = `Recorded ${fmtSize(blob.size)}; it stays in this tab's memory until freed.`;
    mcu.localRecording = { bytes: blob.size, url: localRec.url };
  };
  rec.start(1000);
  $('#local-rec-start').disabled = true;
  $('#local-rec-stop').disabled = false;
}

function localRecStop() {
  if (localRec.recorder && localRec.recorder.state !== 'inactive') localRec.recorder.stop();
  localRec.recorder = null;
  $('#local-rec-start').disabled = false;
  $('#local-rec-stop').disabled = true;
}

function localRecFree() {
  if (localRec.url) URL.revokeObjectURL(localRec.url);
  localRec.url = null;
  localRec.chunks = [];
  localRec.bytes = 0;
  const v = $('#local-rec-video');
  v.removeAttribute('src');
  v.load();
  v.hidden = true;
  $('#local-rec-download').hidden = true;
  $('#local-rec-download').removeAttribute('href');
  $('#local-rec-free').disabled = true;
  $('#local-rec-info').textContent = '';
  mcu.localRecording = null;
}

// ---- wiring ----

$('#join-form').addEventListener('submit', (ev) => { ev.preventDefault(); join(); });
$('#camera').addEventListener('change', openPreview);
$('#microphone').addEventListener('change', openPreview);
$('#leave').onclick = leave;
$('#mute-mic').onclick = (ev) => toggleTrack('audio', ev.currentTarget, 'Mute mic', 'Unmute mic');
$('#mute-cam').onclick = (ev) => toggleTrack('video', ev.currentTarget, 'Stop camera', 'Start camera');
$('#share-screen').onclick = toggleShare;
$('#mixed').onclick = (ev) => ev.currentTarget.play();
$('#apply-settings').onclick = applySettings;
$('#apply-layout').onclick = applyLayout;
$('#rec-start').onclick = startRecording;
$('#rec-stop').onclick = () => { if (mcu.lastRecording) stopRecording(mcu.lastRecording.id); };
$('#local-rec-start').onclick = localRecStart;
$('#local-rec-stop').onclick = localRecStop;
$('#local-rec-free').onclick = localRecFree;
window.addEventListener('pagehide', () => send({ type: 'leave' }));

(async () => {
  const q = new URLSearchParams(location.search);
  $('#room').value = q.get('room') || '';
  $('#name').value = q.get('name') || '';
  setState('idle');
  await openPreview();
  if (q.get('autojoin') === '1' && $('#room').value && $('#name').value) join();
})();
