// Watch-only page: plays a room's composite and full mix over WHEP
// (/watch?room=R&token=T). It sends one offer with all its candidates, so
// it needs no trickle, and DELETEs its session on Stop or when the page
// goes away.
'use strict';

(() => {
  const params = new URLSearchParams(location.search);
  const room = params.get('room') || '';
  const token = params.get('token') || '';
  const video = document.querySelector('#mixed');
  const status = document.querySelector('#status');
  const unmute = document.querySelector('#unmute');
  const stopButton = document.querySelector('#stop');
  // window.watch is read by tests: state, the stream and the session URL.
  const w = window.watch = { state: 'connecting', stream: null, resource: null, error: null };

  function say(state, text) {
    w.state = state;
    status.textContent = text;
  }

  function headers(extra) {
    const h = Object.assign({}, extra);
    if (token) h.Authorization = 'Bearer ' + token;
    return h;
  }

  function gathered(pc, ms) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
      });
    });
  }

  let pc = null;

  async function start() {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(room)) {
      say('error', 'Give the room to watch in the address: /watch?room=NAME');
      return;
    }
    document.title = room + ' · Watch · MCU';
    pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    w.stream = new MediaStream();
    video.srcObject = w.stream;
    pc.ontrack = (ev) => {
      w.stream.addTrack(ev.track);
      playVideo();
    };
    pc.onconnectionstatechange = () => {
      switch (pc.connectionState) {
        case 'connected': say('playing', 'Watching room ' + room + '.'); break;
        case 'disconnected': say('reconnecting', 'Connection interrupted, waiting for it to come back…'); break;
        case 'failed': say('error', 'The connection failed. Reload the page to try again.'); break;
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 3000);
    const r = await fetch('/whep/' + encodeURIComponent(room), {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/sdp' }),
      body: pc.localDescription.sdp,
    });
    const body = await r.text();
    if (r.status !== 201) {
      const why = { 401: 'This link needs a valid token.', 403: 'This token may not watch this room.', 503: 'The server is busy; try again in a moment.' }[r.status];
      throw new Error(why || ('The server refused: ' + body.trim()));
    }
    w.resource = new URL(r.headers.get('Location'), location.href).href;
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
  }

  // Autoplay with sound may be refused until the viewer clicks: play muted
  // then and offer a button.
  function playVideo() {
    video.play().catch(() => {
      video.muted = true;
      unmute.hidden = false;
      video.play().catch(() => {});
    });
  }

  unmute.addEventListener('click', () => {
    video.muted = false;
    unmute.hidden = true;
    video.play().catch(() => {});
  });

  async function stop() {
    if (pc) pc.close();
    pc = null;
    stopButton.disabled = true;
    const res = w.resource;
    w.resource = null;
    say('stopped', 'Stopped.');
    if (res) await fetch(res, { method: 'DELETE', headers: headers(), keepalive: true }).catch(() => {});
  }

  stopButton.addEventListener('click', stop);
  window.addEventListener('pagehide', () => {
    if (w.resource) fetch(w.resource, { method: 'DELETE', headers: headers(), keepalive: true }).catch(() => {});
  });

  start().catch((err) => {
    w.error = String(err && err.message || err);
    say('error', w.error);
    if (pc) pc.close();
  });
})();
