// MCU web client: joins a room over the websocket protocol (docs/protocol.md),
// sends camera and microphone (or only the microphone, or nothing), plays the
// room's mixed stream, and drives the operator API. Plain JS modules, no
// build step.
import { messages, languages, pickLanguage, format } from './i18n.js';

const $ = (sel) => document.querySelector(sel);

// State read by the browser tests.
const mcu = window.mcu = {
  state: 'idle', participantId: null, room: null, lastRecording: null,
  lang: 'en', mode: 'full', iceRestarts: 0, stats: null, wakeLock: false, operator: false,
};
// The current websocket, for tests and debugging.
Object.defineProperty(mcu, 'ws', { get: () => sess && sess.ws });
Object.defineProperty(mcu, 'pc', { get: () => sess && sess.pc });

let local = null;        // MediaStream from the camera and microphone
let screenTrack = null;  // while sharing the screen
let sess = null;         // the current connection: {ws, pc, videoSender, audioSender}
let people = new Map();  // participant id -> {id, name, video, audio}
let speaking = new Set(); // ids of the active speakers ("speakers" events)
let retries = 0;
let retryTimer = null;
let nodeWS = '';     // a cluster node's /ws the server sent us to ("redirect")
let redirects = 0;   // redirects since the last join, to stop a loop
let pollTimer = null;
const recRows = new Map(); // recording id -> <li>

// ---- languages ----

let lang = 'en';
// lastSay is re-rendered in the new language when the language changes.
let lastSay = { key: 'status_choose', params: {}, isError: false };

function t(key, params) {
  const table = messages[lang] || messages.en;
  const s = key in table ? table[key] : messages.en[key];
  if (s === undefined) {
    console.warn('i18n: no message', key);
    return key;
  }
  // A parameter may itself be a message, {k: key, p: params}, so that it
  // follows a change of language too.
  const p = {};
  for (const [name, v] of Object.entries(params || {})) p[name] = v && typeof v === 'object' ? t(v.k, v.p) : v;
  return format(s, p);
}

function setLanguage(code, remember) {
  lang = languages.includes(code) ? code : 'en';
  mcu.lang = lang;
  document.documentElement.lang = t('html_lang');
  $('#lang').value = lang;
  if (remember) {
    try { localStorage.setItem('mcu.lang', lang); } catch (_) { /* private mode */ }
  }
  document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  for (const attr of ['aria', 'title', 'placeholder']) {
    const name = attr === 'aria' ? 'aria-label' : attr;
    document.querySelectorAll(`[data-i18n-${attr}]`).forEach((el) => {
      el.setAttribute(name, t(el.getAttribute(`data-i18n-${attr}`)));
    });
  }
  document.title = t('title');
  // Texts built from state.
  refreshToggles();
  renderPeople();
  for (const [, li] of recRows) if (li.rec) showRecording(li.rec);
  showNet();
  if (mcu.room) $('#room-title').textContent = t('room_title', { room: mcu.room });
  if (localRec.info) $('#local-rec-info').textContent = t(localRec.info.key, localRec.info.params);
  say(lastSay.key, lastSay.params, lastSay.isError);
}

// ---- messages ----

// say shows a translated message on #status; note, when set, is the key of a
// message about the devices that is appended while in the room.
function say(key, params, isError) {
  lastSay = { key, params: params || {}, isError: !!isError };
  const s = $('#status');
  let text = t(key, params);
  if (lastSay.params.note) text += ' ' + t(lastSay.params.note);
  s.textContent = text;
  s.classList.toggle('error', !!isError);
}

function setState(st) {
  mcu.state = st;
  document.body.dataset.state = st;
  const inRoom = st !== 'idle' && st !== 'left';
  document.body.classList.toggle('in-room', inRoom);
  $('#join-panel').hidden = inRoom;
  $('#room-panel').hidden = !inRoom;
  $('#controls').hidden = !inRoom;
  $('#side').hidden = !inRoom || !sideOpen;
  document.body.classList.toggle('side-open', inRoom && sideOpen);
  if (inRoom) keepAwake(); else releaseWake();
}

// ---- tokens ----

// Token is the access token given in the address (?token=) or the join form.
// Its payload is only decoded, to show what it allows; the server checks it.
let token = '';
let claims = null;

function decodeToken(tok) {
  const part = tok.split('.')[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (_) {
    return null;
  }
}

function setToken(tok) {
  token = (tok || '').trim();
  try {
    if (token) sessionStorage.setItem('mcu.token', token); else sessionStorage.removeItem('mcu.token');
  } catch (_) { /* storage off */ }
  claims = token ? decodeToken(token) : null;
  mcu.claims = claims;
  const grant = (claims && claims.video) || {};
  // Without a token (development mode) everyone may operate, as the server
  // allows; with one, only what its video grant says.
  const admin = !token || !!grant.roomAdmin;
  const record = admin || !!grant.roomRecord;
  mcu.operator = record;
  $('#op-output').hidden = !admin;
  $('#op-recording').hidden = !record;
  $('#op-section').hidden = !record;
  $('#show-operator').hidden = !record;
  if (claims) {
    if (grant.room && !$('#room').value) $('#room').value = grant.room;
    // The server shows the token's name (or identity) whatever is typed.
    const shown = claims.name || claims.sub;
    if (shown && !$('#name').value) $('#name').value = shown;
  }
  // A token that may not publish joins as a viewer.
  const viewer = grant.canPublish === false;
  document.querySelectorAll('input[name="mode"]').forEach((r) => {
    r.disabled = viewer && r.value !== 'watch';
    if (viewer && r.value === 'watch' && !r.checked) { r.checked = true; applyMode(); }
  });
}

function tokenExpired() {
  return !!(claims && typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now());
}

// errorKey maps a server error code to a message key.
function errorKey(code) {
  switch (code) {
    case 'unauthorized': return tokenExpired() ? 'err_token_expired' : 'err_unauthorized';
    case 'forbidden': return 'err_forbidden';
    case 'room_full': return 'err_room_full';
    case 'server_full': return 'err_server_full';
    case 'rate_limited': return 'err_rate_limited';
    case 'timeout': return 'err_timeout';
    case 'bad_request': return 'err_bad_request';
    default: return 'err_server';
  }
}

// ---- devices ----

function constraint(value) {
  if (value === 'none') return false;
  if (value === 'default') return true;
  return { deviceId: { exact: value } };
}

// mediaNote is the key of why this participant sends less than it asked
// for; it stays on #status while in the room.
let mediaNote = '';

function mode() {
  const r = document.querySelector('input[name="mode"]:checked');
  return r ? r.value : 'full';
}

// getMedia asks for the chosen devices. It returns a stream or null and
// explains on #status what went wrong.
async function getMedia() {
  mediaNote = '';
  const m = mode();
  if (m === 'watch') return null;
  const fail = (note) => { mediaNote = note; say(note, {}, true); return null; };
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return fail('note_insecure');
  const video = m === 'audio' ? false : constraint($('#camera').value);
  const audio = constraint($('#microphone').value);
  if (!video && !audio) return null;
  try {
    return await navigator.mediaDevices.getUserMedia({ video, audio });
  } catch (err) {
    switch (err.name) {
      case 'NotAllowedError':
        return fail('note_denied');
      case 'NotFoundError':
      case 'OverconstrainedError':
        // Maybe only one of the two exists.
        if (video && audio) {
          for (const [c, note] of [[{ audio }, 'note_no_camera'], [{ video }, 'note_no_mic']]) {
            try {
              const s = await navigator.mediaDevices.getUserMedia(c);
              mediaNote = note;
              say(note, {}, true);
              return s;
            } catch (_) { /* try the next */ }
          }
        }
        return fail('note_no_devices');
      case 'NotReadableError':
        return fail('note_in_use');
    }
    console.warn('getUserMedia', err);
    return fail('note_other');
  }
}

// sayInRoom shows a room message with the media note, if any.
function sayInRoom(key, params) {
  say(key, Object.assign({}, params, mediaNote ? { note: mediaNote } : {}), !!mediaNote);
}

async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  const devs = await navigator.mediaDevices.enumerateDevices();
  for (const [sel, kind, label] of [['#camera', 'videoinput', 'camera_n'], ['#microphone', 'audioinput', 'microphone_n']]) {
    const el = $(sel);
    const keep = el.value;
    el.querySelectorAll('option.device').forEach((o) => o.remove());
    let n = 0;
    for (const d of devs) {
      if (d.kind !== kind || !d.deviceId || d.deviceId === 'default') continue;
      const o = document.createElement('option');
      o.className = 'device';
      o.value = d.deviceId;
      // Device names come from the system, in its language.
      o.textContent = d.label || t(label, { n: ++n });
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
  $('#join-preview').srcObject = local;
  showPip();
  refreshToggles();
  await listDevices().catch(() => {});
  return local;
}

function modeChanged() {
  applyMode();
  openPreview();
}

function applyMode() {
  const m = mode();
  mcu.mode = m;
  document.body.dataset.mode = m;
  document.querySelectorAll('.dev-camera').forEach((el) => { el.hidden = m !== 'full'; });
  document.querySelectorAll('.dev-mic').forEach((el) => { el.hidden = m === 'watch'; });
  refreshToggles();
}

// ---- joining ----

function wsURL() {
  const u = nodeWS ? new URL(nodeWS) : new URL('/ws', location.href);
  if (!nodeWS) u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (token) u.searchParams.set('access_token', token);
  return u.href;
}

function send(msg) {
  if (sess && sess.ws.readyState === WebSocket.OPEN) sess.ws.send(JSON.stringify(msg));
}

function join() {
  const room = $('#room').value.trim();
  const name = $('#name').value.trim();
  setToken($('#token').value);
  if (!$('#join-form').checkValidity()) {
    const bad = !/^[A-Za-z0-9_-]{1,64}$/.test(room) ? '#room' : '#name';
    say(bad === '#room' ? 'err_room_invalid' : 'err_name_required', {}, true);
    $(bad).focus();
    return;
  }
  if (tokenExpired()) {
    say('err_token_expired', {}, true);
    return;
  }
  mcu.room = room;
  mcu.name = name;
  mcu.mode = mode();
  retries = 0;
  nodeWS = '';
  redirects = 0;
  const u = new URL(location.href);
  u.searchParams.set('room', room);
  u.searchParams.set('name', name);
  u.searchParams.delete('autojoin');
  history.replaceState(null, '', u);
  $('#room-title').textContent = t('room_title', { room });
  connect();
}

function connect() {
  clearTimeout(retryTimer);
  hangUp();
  setState(mcu.state === 'reconnecting' ? 'reconnecting' : 'joining');
  if (mcu.state === 'joining') sayInRoom('joining', { room: mcu.room });
  const s = { ws: new WebSocket(wsURL()), pc: null, videoSender: null, audioSender: null, closed: false, opened: false, queue: Promise.resolve() };
  sess = s;
  s.ws.onopen = () => {
    s.opened = true;
    const m = { type: 'join', room: mcu.room, name: mcu.name };
    if (mcu.mode === 'watch') m.receive_only = true;
    send(m);
  };
  // Messages are handled one at a time, in order: an answer is applied
  // before the candidates that follow it.
  s.ws.onmessage = (ev) => {
    s.queue = s.queue.then(() => (s.closed ? null : onMessage(s, JSON.parse(ev.data))))
      .catch((err) => { console.warn('message', err); say('err_message', {}, true); });
  };
  s.ws.onclose = (ev) => {
    if (s.closed) return;
    // A refused upgrade (a bad token, say) closes before opening.
    if (!s.opened && token && mcu.state === 'joining') {
      hangUp();
      setState('idle');
      say(tokenExpired() ? 'err_token_expired' : 'err_refused', {}, true);
      return;
    }
    lost('why_ws_closed', ev.code);
  };
}

// hangUp closes the current connection without reconnecting.
function hangUp() {
  const s = sess;
  sess = null;
  if (!s) return;
  s.closed = true;
  clearTimeout(s.restartTimer);
  if (s.pc) s.pc.close();
  if (s.ws.readyState <= WebSocket.OPEN) s.ws.close(1000);
  stopStats();
}

// lost schedules a rejoin with exponential backoff (0.5 s doubling to 10 s).
function lost(why) {
  hangUp();
  nodeWS = ''; // rejoin through the front door: the room may have moved
  if (mcu.state === 'left' || mcu.state === 'idle') return;
  setState('reconnecting');
  const delay = Math.min(10000, 500 * 2 ** retries);
  retries++;
  say('lost', { why: { k: why }, s: (Math.round(delay / 100) / 10).toLocaleString(t('html_lang')), n: retries }, true);
  retryTimer = setTimeout(connect, delay);
}

async function onMessage(s, m) {
  switch (m.type) {
    case 'redirect':
      // The room lives on another node of a cluster: join there, with
      // the same token. A few hops at most, then start over here.
      s.closed = true;
      redirects++;
      nodeWS = redirects <= 3 && /^wss?:\/\//.test(m.url || '') ? m.url : '';
      if (!nodeWS) {
        lost('why_ws_closed');
        return;
      }
      connect();
      break;
    case 'joined':
      redirects = 0;
      mcu.participantId = m.participant_id;
      s.iceServers = m.ice_servers;
      people = new Map((m.participants || []).map((p) => [p.id, p]));
      renderPeople();
      setSettings(m.quality, m.fps);
      setView(m.layout_mode, m.pinned);
      setState('joined');
      sayInRoom('joined', { room: m.room, name: mcu.name });
      startPolling();
      try {
        await negotiate(s);
      } catch (err) {
        console.warn('negotiation', err);
        say('err_negotiation', {}, true);
      }
      break;
    case 'answer':
      if (s.pc.signalingState !== 'have-local-offer') return;
      await s.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      // A restart on a path that still works never leaves 'connected'.
      if (s.pc.connectionState === 'connected' && mcu.state !== 'connected') connected(s);
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
    case 'participant_updated':
      people.set(m.participant.id, m.participant);
      renderPeople();
      break;
    case 'participant_left':
      people.delete(m.participant.id);
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
      break;
    case 'recording':
      refreshRecordings();
      break;
    case 'error':
      onError(m);
      break;
  }
}

function onError(m) {
  console.warn('server error', m.code, m.message);
  const key = errorKey(m.code);
  // The server closes the connection after these: trying again with the
  // same token would not help.
  const fatal = m.code === 'unauthorized' || m.code === 'forbidden';
  if (fatal || mcu.state === 'joining' || mcu.state === 'reconnecting') {
    clearTimeout(retryTimer);
    stopPolling();
    hangUp();
    setState('idle');
    say('could_not_join', { why: { k: key, p: { detail: m.message } } }, true);
    return;
  }
  say(key, { detail: m.message }, true);
}

function outgoingVideo() {
  if (screenTrack) return screenTrack;
  return local ? local.getVideoTracks()[0] || null : null;
}

async function negotiate(s) {
  // STUN/TURN servers, when the server names some in 'joined'.
  const pc = new RTCPeerConnection({ iceServers: s.iceServers || [] });
  s.pc = pc;
  const mic = local ? local.getAudioTracks()[0] : null;
  const cam = outgoingVideo();
  const stream = local || new MediaStream();
  switch (mcu.mode) {
    case 'watch': // receive only: nothing to send
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      break;
    case 'audio': { // the lightest participant: one audio transceiver, no video either way
      const at = pc.addTransceiver(mic || 'audio', { direction: 'sendrecv', streams: [stream] });
      s.audioSender = at.sender;
      break;
    }
    default: {
      // One sendrecv transceiver per kind, so the server can send the
      // composite even to a participant without a camera or a microphone.
      const vt = pc.addTransceiver(cam || 'video', { direction: 'sendrecv', streams: [stream] });
      const at = pc.addTransceiver(mic || 'audio', { direction: 'sendrecv', streams: [stream] });
      s.videoSender = vt.sender;
      s.audioSender = at.sender;
    }
  }

  const mixed = new MediaStream();
  pc.ontrack = (ev) => {
    mixed.addTrack(ev.track);
    const v = $('#mixed');
    if (v.srcObject !== mixed) v.srcObject = mixed;
    v.play().catch((err) => {
      if (err.name === 'NotAllowedError') say('err_autoplay', {}, true);
    });
  };
  pc.onconnectionstatechange = () => {
    if (s.closed) return;
    switch (pc.connectionState) {
      case 'connected':
        connected(s);
        break;
      case 'failed':
        restartIce(s);
        break;
      case 'disconnected':
        // Often a short gap; a path that is gone needs new candidates.
        setTimeout(() => { if (!s.closed && pc.connectionState === 'disconnected') restartIce(s); }, 1000);
        break;
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc, 3000);
  if (s.closed) return;
  send({ type: 'offer', sdp: pc.localDescription.sdp });
}

function connected(s) {
  retries = 0;
  clearTimeout(s.restartTimer);
  s.restarts = 0;
  setState('connected');
  sayInRoom('in_room', { room: mcu.room, name: mcu.name });
  startStats(s);
}

// restartIce looks for a new network path with fresh ICE credentials and
// candidates, over the same websocket: the participant keeps its place in
// the room. After two tries that do not connect, it rejoins.
async function restartIce(s) {
  if (s.closed || !s.pc || s.restarting) return;
  if ((s.restarts || 0) >= 2) { lost('why_media_failed'); return; }
  s.restarting = true;
  s.restarts = (s.restarts || 0) + 1;
  mcu.iceRestarts++;
  setState('restarting');
  say('restarting', {}, true);
  try {
    const pc = s.pc;
    await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
    await gathered(pc, 2000);
    if (s.closed) return;
    send({ type: 'offer', sdp: pc.localDescription.sdp });
  } catch (err) {
    console.warn('ICE restart', err);
    lost('why_media_failed');
    return;
  } finally {
    s.restarting = false;
  }
  clearTimeout(s.restartTimer);
  s.restartTimer = setTimeout(() => {
    if (!s.closed && s.pc.connectionState !== 'connected') restartIce(s);
  }, 6000);
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
  exitFullscreen();
  $('#mixed').srcObject = null;
  people.clear();
  renderPeople();
  mcu.participantId = null;
  setState('left');
  say('you_left', { room: mcu.room });
}

function renderPeople() {
  const ul = $('#participants');
  ul.replaceChildren(...[...people.values()].map((p) => {
    const li = document.createElement('li');
    li.dataset.id = p.id;
    const off = [!p.video && t('no_video'), !p.audio && t('no_audio')].filter(Boolean).join(t('list_sep'));
    li.textContent = p.name + (p.id === mcu.participantId ? t('you_suffix') : '') + (off ? ` — ${off}` : '') +
      (p.screen ? ` — ${t('sharing_screen')}` : '') + (speaking.has(p.id) ? ` — ${t('speaking')}` : '');
    li.classList.toggle('speaking', speaking.has(p.id));
    return li;
  }));
  $('#show-people').dataset.count = String(people.size);
  const pin = $('#pinned');
  const keep = pin.value;
  pin.replaceChildren(new Option(t('active_speaker'), ''), ...[...people.values()].map((p) => new Option(p.name, p.id)));
  pin.value = keep;
}

function setView(layout, pinned) {
  if (layout) $('#layout').value = layout;
  if (pinned !== undefined && pinned !== null) $('#pinned').value = pinned;
}

async function applyLayout() {
  const body = { layout: $('#layout').value, pinned: $('#pinned').value };
  try {
    await api('PUT', `/api/rooms/${encodeURIComponent(mcu.room)}`, body);
    say('layout_set', { layout: t('layout_' + body.layout) });
  } catch (err) {
    apiFailed('err_layout', err);
  }
}

// ---- call controls ----

function toggleTrack(kind) {
  const track = kind === 'audio' ? local && local.getAudioTracks()[0] : local && local.getVideoTracks()[0];
  if (!track) { say(kind === 'audio' ? 'err_no_mic' : 'err_no_camera', {}, true); return; }
  track.enabled = !track.enabled;
  refreshToggles();
  // Tell the server, so that the others see the placeholder with our name
  // rather than a black picture.
  send({ type: 'mute', [kind]: !track.enabled });
}

// refreshToggles sets the pressed state and label of the toggle buttons.
function refreshToggles() {
  const mic = local && local.getAudioTracks()[0];
  const cam = local && local.getVideoTracks()[0];
  const set = (sel, pressed, key) => {
    const b = $(sel);
    b.setAttribute('aria-pressed', String(pressed));
    b.querySelector('.label').textContent = t(key);
  };
  set('#mute-mic', !!mic && !mic.enabled, mic && !mic.enabled ? 'unmute_mic' : 'mute_mic');
  set('#mute-cam', !!cam && !cam.enabled, cam && !cam.enabled ? 'start_camera' : 'stop_camera');
  set('#share-screen', !!screenTrack, screenTrack ? 'stop_sharing' : 'share_screen');
  const m = mcu.mode;
  $('#mute-mic').hidden = m === 'watch';
  $('#mute-cam').hidden = m !== 'full';
  // Phones' browsers have no screen capture.
  $('#share-screen').hidden = m !== 'full' || !(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
}

async function toggleShare() {
  if (screenTrack) { await stopSharing(true); return; }
  if (!navigator.mediaDevices.getDisplayMedia) { say('err_share_unsupported', {}, true); return; }
  try {
    const s = await navigator.mediaDevices.getDisplayMedia({ video: true });
    screenTrack = s.getVideoTracks()[0];
  } catch (err) {
    say(err.name === 'NotAllowedError' ? 'share_cancelled' : 'err_share', {}, true);
    return;
  }
  screenTrack.onended = () => stopSharing(true);
  if (sess && sess.videoSender) await sess.videoSender.replaceTrack(screenTrack);
  // The track replaces the camera: only this message tells the server it
  // is a share, for the presenter layout.
  send({ type: 'share', screen: true });
  $('#preview').srcObject = new MediaStream([screenTrack]);
  showPip();
  refreshToggles();
}

async function stopSharing(restore) {
  if (!screenTrack) return;
  screenTrack.onended = null;
  screenTrack.stop();
  screenTrack = null;
  if (restore && sess && sess.videoSender) await sess.videoSender.replaceTrack(outgoingVideo());
  send({ type: 'share', screen: false });
  $('#preview').srcObject = local;
  showPip();
  refreshToggles();
}

// ---- the stage: fullscreen and the self-view ----

function isFullscreen() {
  return !!(document.fullscreenElement || document.webkitFullscreenElement);
}

async function toggleFullscreen() {
  if (isFullscreen()) { exitFullscreen(); return; }
  const stage = $('#stage');
  try {
    if (stage.requestFullscreen) await stage.requestFullscreen({ navigationUI: 'hide' });
    else if (stage.webkitRequestFullscreen) stage.webkitRequestFullscreen();
    else if ($('#mixed').webkitEnterFullscreen) $('#mixed').webkitEnterFullscreen(); // iPhone
  } catch (err) {
    console.warn('fullscreen', err);
  }
}

function exitFullscreen() {
  if (!isFullscreen()) return;
  const r = (document.exitFullscreen || document.webkitExitFullscreen).call(document);
  if (r && r.catch) r.catch(() => {});
}

function fullscreenChanged() {
  const on = isFullscreen();
  const b = $('#fullscreen');
  b.setAttribute('aria-pressed', String(on));
  b.dataset.i18nAria = on ? 'exit_fullscreen' : 'fullscreen';
  b.setAttribute('aria-label', t(b.dataset.i18nAria));
}

// A double tap (touch) or double click fills the screen with the room.
// Some browsers turn a double tap into a dblclick too, others do not: the
// one that comes second is ignored.
let lastTap = 0;
let tapToggled = -1e9;
function onStageTap(ev) {
  if (ev.pointerType !== 'touch') return;
  const now = ev.timeStamp;
  if (now - lastTap < 350) {
    lastTap = 0;
    tapToggled = now;
    toggleFullscreen();
  } else lastTap = now;
}

function onStageDblClick(ev) {
  if (ev.timeStamp - tapToggled < 600) return;
  toggleFullscreen();
}

let pipHidden = false;
const corners = ['br', 'bl', 'tl', 'tr'];

function showPip() {
  const v = $('#preview');
  const hasVideo = !!(v.srcObject && v.srcObject.getVideoTracks().length);
  $('#pip').hidden = !hasVideo || pipHidden;
  $('#pip-show').hidden = !hasVideo || !pipHidden;
  $('#join-preview').hidden = !hasVideo;
  if (hasVideo && !pipHidden) v.play().catch(() => {});
}

function setPipHidden(h) {
  pipHidden = h;
  showPip();
  (h ? $('#pip-show') : $('#pip-hide')).focus();
}

function movePip(corner) {
  const pip = $('#pip');
  pip.dataset.corner = corner || corners[(corners.indexOf(pip.dataset.corner) + 1) % corners.length];
}

// Dragging the self-view drops it in the nearest corner.
function dragPip(ev) {
  if (ev.target.closest('button')) return;
  const pip = $('#pip');
  const stage = $('#stage').getBoundingClientRect();
  pip.setPointerCapture(ev.pointerId);
  const start = pip.getBoundingClientRect();
  const dx = ev.clientX - start.left;
  const dy = ev.clientY - start.top;
  pip.classList.add('dragging');
  const move = (e) => {
    pip.style.left = `${e.clientX - dx - stage.left}px`;
    pip.style.top = `${e.clientY - dy - stage.top}px`;
  };
  const up = (e) => {
    pip.removeEventListener('pointermove', move);
    pip.removeEventListener('pointerup', up);
    pip.removeEventListener('pointercancel', up);
    pip.classList.remove('dragging');
    pip.style.left = pip.style.top = '';
    const right = e.clientX - stage.left > stage.width / 2;
    const bottom = e.clientY - stage.top > stage.height / 2;
    movePip((bottom ? 'b' : 't') + (right ? 'r' : 'l'));
  };
  pip.addEventListener('pointermove', move);
  pip.addEventListener('pointerup', up);
  pip.addEventListener('pointercancel', up);
}

// ---- side panel ----

let sideOpen = false;
let sideFor = null; // the button that opened it

function openSide(section, button) {
  sideOpen = true;
  sideFor = button;
  $('#side').hidden = false;
  document.body.classList.add('side-open');
  for (const b of ['#show-people', '#show-operator', '#show-record']) $(b).setAttribute('aria-expanded', String($(b) === button));
  const el = $(section);
  el.scrollIntoView({ block: 'start' });
  const focusable = el.querySelector('button:not([disabled]), select, input, a[href]');
  (focusable || $('#side-close')).focus({ preventScroll: true });
}

function closeSide() {
  const was = sideOpen;
  sideOpen = false;
  $('#side').hidden = true;
  document.body.classList.remove('side-open');
  for (const b of ['#show-people', '#show-operator', '#show-record']) $(b).setAttribute('aria-expanded', 'false');
  if (was && sideFor && !sideFor.hidden) sideFor.focus();
}

function toggleSide(section, button) {
  if (sideOpen && sideFor === button) closeSide(); else openSide(section, button);
}

// ---- connection quality and wake lock ----

let statsTimer = null;
let statsPrev = null;

function startStats(s) {
  stopStats();
  statsPrev = null;
  const tick = () => readStats(s).catch((err) => console.warn('stats', err));
  statsTimer = setInterval(tick, 2000);
  tick();
}

function stopStats() {
  clearInterval(statsTimer);
  statsTimer = null;
  mcu.stats = null;
  showNet();
}

// readStats turns getStats into received bitrate, loss and round trip,
// and a level: good, weak (worth a word) or poor (worth a warning).
async function readStats(s) {
  if (!s.pc || s.closed) return;
  const report = await s.pc.getStats();
  let bytes = 0, lost = 0, got = 0, rtt = null;
  report.forEach((r) => {
    if (r.type === 'inbound-rtp') {
      bytes += r.bytesReceived || 0;
      lost += r.packetsLost || 0;
      got += r.packetsReceived || 0;
    } else if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded' && typeof r.currentRoundTripTime === 'number') {
      rtt = r.currentRoundTripTime;
    }
  });
  const now = performance.now();
  const prev = statsPrev;
  statsPrev = { now, bytes, lost, got };
  if (!prev) return;
  const secs = (now - prev.now) / 1000;
  const dl = Math.max(0, lost - prev.lost);
  const dg = Math.max(0, got - prev.got);
  const st = {
    kbps: Math.round(((bytes - prev.bytes) * 8) / 1000 / secs),
    loss: dg + dl ? (100 * dl) / (dg + dl) : 0,
    rttMs: rtt === null ? null : Math.round(rtt * 1000),
  };
  // The bitrate says little by itself (a still picture needs few bits),
  // but nothing arriving at all is a broken link.
  if (st.loss > 8 || (st.rttMs !== null && st.rttMs > 600) || st.kbps < 4) st.level = 'poor';
  else if (st.loss > 2 || (st.rttMs !== null && st.rttMs > 250)) st.level = 'weak';
  else st.level = 'good';
  const was = mcu.stats && mcu.stats.level;
  mcu.stats = st;
  showNet();
  if (st.level === 'poor' && was !== 'poor') sayInRoom('net_warning');
  else if (st.level !== 'poor' && was === 'poor') sayInRoom('in_room', { room: mcu.room, name: mcu.name });
}

function showNet() {
  const st = mcu.stats;
  const el = $('#net');
  const level = st ? st.level : 'none';
  el.dataset.level = level;
  el.setAttribute('aria-label', t('net_' + level));
  el.querySelector('.net-word').textContent = st ? t('net_word_' + level) : '';
  $('#net-details').textContent = st ? t('net_details', {
    kbps: st.kbps, loss: st.loss.toFixed(1), rtt: st.rttMs === null ? '–' : st.rttMs,
  }) : '';
}

let wakeLock = null;

// keepAwake keeps the screen on during a call, where the browser can.
async function keepAwake() {
  if (wakeLock || !('wakeLock' in navigator) || document.visibilityState !== 'visible') return;
  try {
    wakeLock = await navigator.wakeLock.request('screen');
    mcu.wakeLock = true;
    wakeLock.addEventListener('release', () => { wakeLock = null; mcu.wakeLock = false; });
  } catch (err) {
    mcu.wakeLock = false; // refused (battery saver, say): not worth a message
  }
}

function releaseWake() {
  if (wakeLock) wakeLock.release().catch(() => {});
  wakeLock = null;
  mcu.wakeLock = false;
}

// ---- operator panel ----

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  if (token) opts.headers.Authorization = 'Bearer ' + token;
  const r = await fetch(path, opts);
  if (r.status === 204) return null;
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(data.error || `${method} ${path}: HTTP ${r.status}`);
    err.key = r.status === 401 ? errorKey('unauthorized') : r.status === 403 ? 'err_forbidden' : null;
    err.detail = data.error || `HTTP ${r.status}`;
    throw err;
  }
  return data;
}

// apiFailed says that an operator action failed, and why in words.
function apiFailed(key, err) {
  console.warn(key, err);
  say(key, { why: err.key ? { k: err.key } : err.detail || err.message }, true);
}

function setSettings(quality, fps) {
  if (quality) $('#quality').value = quality;
  if (fps) $('#fps').value = String(fps);
}

async function applySettings() {
  const body = { quality: $('#quality').value, fps: Number($('#fps').value) };
  try {
    await api('PUT', `/api/rooms/${encodeURIComponent(mcu.room)}`, body);
    say('output_set', { quality: body.quality, fps: body.fps });
  } catch (err) {
    apiFailed('err_output', err);
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
    say('rec_started', { name: rec.name || rec.id });
    showRecording(rec);
  } catch (err) {
    apiFailed('err_rec_start', err);
  }
}

async function stopRecording(id) {
  try {
    const rec = await api('POST', `/api/recordings/${encodeURIComponent(id)}/stop`);
    if (mcu.lastRecording && mcu.lastRecording.id === id) {
      mcu.lastRecording = rec;
      $('#rec-stop').disabled = true;
    }
    say('rec_stopped', { name: rec.name || rec.id });
    showRecording(rec);
  } catch (err) {
    apiFailed('err_rec_stop', err);
  }
}

async function deleteRecording(id) {
  try {
    await api('DELETE', `/api/recordings/${encodeURIComponent(id)}`);
    const li = recRows.get(id);
    if (li) li.remove();
    recRows.delete(id);
  } catch (err) {
    apiFailed('err_rec_delete', err);
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
  if (!mcu.operator) return;
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

// sizeMsg is a byte count as a message, {k, p}, to pass as a parameter.
function sizeMsg(b) {
  const u = ['size_b', 'size_kb', 'size_mb', 'size_gb'];
  if (!b) return { k: 'size_b', p: { n: 0 } };
  const i = Math.min(u.length - 1, Math.floor(Math.log(b) / Math.log(1024)));
  return { k: u[i], p: { n: (b / 1024 ** i).toFixed(i ? 1 : 0) } };
}

function fmtSize(b) {
  const m = sizeMsg(b);
  return t(m.k, m.p);
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
      '<div class="row"><a class="rec-download button" download></a>' +
      '<button type="button" class="rec-action"></button></div>';
    const media = document.createElement(rec.audio_only ? 'audio' : 'video');
    media.className = 'rec-preview';
    media.controls = true;
    // A running recording loads only when played: a prefix fetched now
    // would not play once the file is finished.
    media.preload = rec.state === 'recording' ? 'none' : 'metadata';
    media.src = previewURL(rec);
    li.append(media);
    li.querySelector('.rec-action').onclick = () => {
      if (li.dataset.state === 'recording') stopRecording(rec.id); else deleteRecording(rec.id);
    };
    recRows.set(rec.id, li);
    $('#recordings').prepend(li);
  }
  li.rec = rec;
  const was = li.dataset.state;
  li.dataset.state = rec.state;
  li.querySelector('.rec-name').textContent = rec.name || rec.id;
  li.querySelector('.rec-state').textContent = t('rec_state_' + rec.state);
  li.querySelector('.rec-meta').textContent = [rec.audio_only ? t('audio_only') : t('quality_fps', { quality: rec.quality, fps: rec.fps }),
    rec.format === 'mp4' ? 'MP4' : 'WebM', fmtDuration(rec.duration_s), fmtSize(rec.size_bytes)].join(' · ');
  li.querySelector('.rec-download').href = withToken(rec.download_url);
  li.querySelector('.rec-download').textContent = t('download');
  li.querySelector('.rec-action').textContent = rec.state === 'recording' ? t('stop') : t('delete');
  const media = li.querySelector('.rec-preview');
  media.setAttribute('aria-label', t('preview_of', { name: rec.name || rec.id }));
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
  const tr = document.createElement('track');
  tr.kind = 'subtitles';
  tr.label = t('who_speaks');
  tr.srclang = 'und';
  tr.src = withToken(rec.timeline_url);
  tr.default = true;
  media.append(tr);
}

// withToken adds the access token to a link the browser fetches by itself,
// which cannot carry an Authorization header.
function withToken(href) {
  if (!token) return href;
  const u = new URL(href, location.href);
  u.searchParams.set('access_token', token);
  return u.pathname + u.search;
}

// previewURL differs between a running and a finished recording, because
// Chromium's media cache would otherwise keep serving the running prefix.
function previewURL(rec) {
  const u = new URL(withToken(rec.download_url), location.href);
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

const localRec = { recorder: null, chunks: [], bytes: 0, url: null, info: null };

function localInfo(key, params) {
  localRec.info = key ? { key, params } : null;
  $('#local-rec-info').textContent = key ? t(key, params) : '';
}

function localRecStart() {
  const stream = $('#mixed').srcObject;
  if (!stream || !stream.getTracks().length || typeof MediaRecorder === 'undefined') {
    say('err_nothing_to_record', {}, true);
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
    localInfo('local_recording', { size: sizeMsg(localRec.bytes) });
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
    localInfo('local_recorded', { size: sizeMsg(blob.size) });
    mcu.localRecording = { bytes: blob.size, url: localRec.url };
  };
  rec.start(1000);
  $('#local-rec-start').disabled = true;
  $('#local-rec-stop').disabled = false;
  $('#show-record').classList.add('live');
}

function localRecStop() {
  if (localRec.recorder && localRec.recorder.state !== 'inactive') localRec.recorder.stop();
  localRec.recorder = null;
  $('#local-rec-start').disabled = false;
  $('#local-rec-stop').disabled = true;
  $('#show-record').classList.remove('live');
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
  localInfo(null);
  mcu.localRecording = null;
}

// ---- wiring ----

$('#join-form').addEventListener('submit', (ev) => { ev.preventDefault(); join(); });
$('#camera').addEventListener('change', openPreview);
$('#microphone').addEventListener('change', openPreview);
document.querySelectorAll('input[name="mode"]').forEach((r) => r.addEventListener('change', modeChanged));
$('#lang').addEventListener('change', (ev) => setLanguage(ev.target.value, true));
$('#leave').onclick = leave;
$('#mute-mic').onclick = () => toggleTrack('audio');
$('#mute-cam').onclick = () => toggleTrack('video');
$('#share-screen').onclick = toggleShare;
$('#fullscreen').onclick = toggleFullscreen;
$('#mixed').addEventListener('dblclick', onStageDblClick);
$('#mixed').addEventListener('pointerup', onStageTap);
$('#mixed').addEventListener('click', (ev) => { if (ev.currentTarget.paused) ev.currentTarget.play(); });
document.addEventListener('fullscreenchange', fullscreenChanged);
document.addEventListener('webkitfullscreenchange', fullscreenChanged);
$('#pip').addEventListener('pointerdown', dragPip);
$('#pip-move').onclick = () => movePip();
$('#pip-hide').onclick = () => setPipHidden(true);
$('#pip-show').onclick = () => setPipHidden(false);
$('#show-people').onclick = (ev) => toggleSide('#people-section', ev.currentTarget);
$('#show-operator').onclick = (ev) => toggleSide('#op-section', ev.currentTarget);
$('#show-record').onclick = (ev) => toggleSide('#local-section', ev.currentTarget);
$('#side-close').onclick = closeSide;
document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && sideOpen) closeSide(); });
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && sess) keepAwake();
});
$('#apply-settings').onclick = applySettings;
$('#apply-layout').onclick = applyLayout;
$('#rec-start').onclick = startRecording;
$('#rec-stop').onclick = () => { if (mcu.lastRecording) stopRecording(mcu.lastRecording.id); };
$('#local-rec-start').onclick = localRecStart;
$('#local-rec-stop').onclick = localRecStop;
$('#local-rec-free').onclick = localRecFree;
window.addEventListener('pagehide', () => send({ type: 'leave' }));

// For tests and the curious: restart ICE now, as a network change would.
mcu.restartIce = () => sess && restartIce(sess);
mcu.setLanguage = (code) => setLanguage(code, false);
mcu.messages = messages;

(async () => {
  const q = new URLSearchParams(location.search);
  let saved = null;
  try { saved = localStorage.getItem('mcu.lang'); } catch (_) { /* private mode */ }
  setLanguage(q.get('lang') || saved || pickLanguage(navigator.languages || [navigator.language]), false);
  $('#room').value = q.get('room') || '';
  $('#name').value = q.get('name') || '';
  const m = q.get('mode');
  if (m && document.querySelector(`input[name="mode"][value="${CSS.escape(m)}"]`)) {
    document.querySelector(`input[name="mode"][value="${CSS.escape(m)}"]`).checked = true;
  }
  // The token is kept out of the address bar, history and screenshots, and
  // in this tab's session storage, so that a reload still has it.
  let savedToken = '';
  try { savedToken = sessionStorage.getItem('mcu.token') || ''; } catch (_) { /* storage off */ }
  $('#token').value = q.get('token') || savedToken;
  setToken($('#token').value);
  if (q.has('token')) {
    const u = new URL(location.href);
    u.searchParams.delete('token');
    history.replaceState(null, '', u);
  }
  // Wide screens show the side panel beside the room from the start.
  if (matchMedia('(min-width: 1100px)').matches) sideOpen = true;
  setState('idle');
  if (sideOpen) {
    sideFor = $('#show-people');
    sideFor.setAttribute('aria-expanded', 'true');
  }
  applyMode();
  await openPreview();
  if (tokenExpired()) say('err_token_expired', {}, true);
  else if (q.get('autojoin') === '1' && $('#room').value && $('#name').value) join();
})();
