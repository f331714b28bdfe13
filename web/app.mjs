// The vidgate web page: sign in, upload with Uppy 6 (its signRequest callback, or with ?mode=credentials
// its getCredentials callback), list my videos, play one through its playback URL, delete one. Uppy is vendored
// from npm by infra/web-setup.
import { Uppy, Dashboard, AwsS3 } from './vendor/uppy.min.mjs';

const api = location.origin;
const MIB = 1024 * 1024;
const $ = (id) => document.getElementById(id);
let token = null;
let uppy = null;
let refreshTimer = null;
/// Keys Uppy finished sending whose record is not final yet: the S3 event records them a moment
/// later (and, for keys under the caller's prefix, creates the record), so the list looks again.
const arriving = new Set();

function showError(message) {
  $('error').textContent = message || '';
}

/// Calls the API as the signed-in user; throws with the API's error message on failure.
async function call(method, route, body) {
  const response = await fetch(api + route, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(json?.error?.message || `${method} ${route}: ${response.status}`);
  return json;
}

/// A JWT as it is, or a user name exchanged for a dev token by the local stack.
async function signIn(user) {
  if (user.split('.').length === 3) return user;
  const response = await fetch(`${api}/local/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub: user }),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(json?.error?.message || 'sign-in failed');
  return json.token;
}

/// Uppy's signRequest: vidgate presigns the one S3 request Uppy names (and records a new upload
/// when the request starts one). Reads `token` at each call, so a new sign-in needs no reconfiguring.
async function signRequest(request) {
  return call('POST', '/uppy/sign', request);
}

/// Uppy's getCredentials: temporary credentials that can write only under the caller's prefix.
async function getCredentials() {
  return call('GET', '/uppy/credentials');
}

async function startUppy() {
  if (uppy) return;
  // Multipart can resume and retry part by part; S3 needs parts of 5 MiB or more.
  const options = { shouldUseMultipart: (file) => file.size > 5 * MIB };
  if (new URLSearchParams(location.search).get('mode') === 'credentials') {
    // The browser signs with the credentials itself; keys must sit under the caller's prefix.
    const { endpoint, prefix } = await getCredentials();
    Object.assign(options, {
      s3Endpoint: endpoint,
      getCredentials,
      generateObjectKey: (file) => `${prefix}${crypto.randomUUID()}/${file.name}`,
    });
  } else {
    // The key Uppy proposes only names the file: vidgate answers the key it chose.
    Object.assign(options, { signRequest, generateObjectKey: (file) => file.name });
  }
  uppy = new Uppy({ autoProceed: true, restrictions: { allowedFileTypes: ['video/*', '.mp4', '.mov', '.webm', '.mkv'] } })
    .use(Dashboard, { inline: true, target: '#uploader', height: 380, proudlyDisplayPoweredByUppy: false,
      note: 'Videos go straight to S3; files over 5 MiB in resumable parts.' })
    .use(AwsS3, options);
  uppy.on('upload-success', (file, response) => {
    if (response?.body?.key) arriving.add(response.body.key);
    refresh();
  });
  uppy.on('complete', () => refresh());
  window.uppy = uppy; // for the console (and the browser test's pause/resume)
}

function formatSize(bytes) {
  if (bytes == null) return '–';
  return bytes >= MIB ? `${(bytes / MIB).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`;
}

/** What the header says, as the list shows it: `0:06 · 640×360 · avc1.64001F + mp4a.40.2`. */
function formatMedia(v) {
  const m = v.media;
  if (!m) return { text: v.status === 'rejected' ? v.rejectReason ?? '' : '–', warnings: [] };
  const parts = [];
  if (m.durationMs != null) {
    const s = Math.round(m.durationMs / 1000);
    parts.push(`${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`);
  }
  parts.push(`${m.width}×${m.height}${m.rotation ? ` ↻${m.rotation}°` : ''}`);
  parts.push([m.videoCodec, m.audioCodec].filter(Boolean).join(' + '));
  // Each warning: a short label, and its explanation as the label's tooltip.
  const warnings = [];
  if (m.faststart === false) {
    warnings.push(['not faststart', 'moov after mdat: playback starts only once the end of the file has loaded']);
  }
  const missing = [['chromium', 'Chromium'], ['firefox', 'Firefox'], ['safari', 'Safari']]
    .filter(([key]) => m.browsers[key] === false).map(([, name]) => name);
  if (missing.length > 0) warnings.push([`won't play in ${missing.join(', ')}`, `${m.videoCodec} in ${m.container}`]);
  return { text: parts.join(' · '), warnings };
}

async function refresh() {
  if (!token) return;
  clearTimeout(refreshTimer);
  try {
    const { videos } = await call('GET', '/v1/videos?limit=50');
    const rows = videos.map((v) => {
      const tr = document.createElement('tr');
      tr.dataset.id = v.id;
      const cells = [v.filename, v.status, formatSize(v.size), new Date(v.createdAt).toLocaleString()];
      cells.forEach((text, i) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (i === 1) { td.className = 'status'; td.dataset.status = v.status; }
        tr.append(td);
      });
      const media = formatMedia(v);
      const mediaCell = document.createElement('td');
      mediaCell.className = 'media';
      mediaCell.textContent = media.text;
      for (const [label, why] of media.warnings) {
        const w = document.createElement('span');
        w.className = 'media-warning';
        w.textContent = `⚠ ${label}`;
        w.title = why;
        mediaCell.append(w);
      }
      tr.append(mediaCell);
      const action = document.createElement('td');
      if (v.status === 'uploaded') {
        const play = document.createElement('button');
        play.textContent = 'Play';
        play.className = 'play';
        play.addEventListener('click', () => playVideo(v));
        action.append(play);
      }
      // Any state: an upload in progress is stopped and its parts removed too.
      const remove = document.createElement('button');
      remove.textContent = 'Delete';
      remove.className = 'delete';
      remove.addEventListener('click', () => deleteVideo(v, remove));
      action.append(' ', remove);
      tr.append(action);
      return tr;
    });
    $('videos').replaceChildren(...rows);
    for (const v of videos) if (v.status !== 'uploading') arriving.delete(v.key);
    // S3 events finish uploads a moment after the last request: look again while any is open.
    if (arriving.size > 0 || videos.some((v) => v.status === 'uploading')) refreshTimer = setTimeout(refresh, 1000);
  } catch (e) {
    showError(e.message);
  }
}

/// Deletes a video after the user confirms; the row goes once the API said 204.
async function deleteVideo(video, button) {
  if (!window.confirm(`Delete ${video.filename}? This can't be undone.`)) return;
  button.disabled = true;
  showError('');
  try {
    await call('DELETE', `/v1/videos/${video.id}`);
    if ($('player').dataset.id === video.id) {
      $('player').removeAttribute('src');
      $('player').load();
      $('now-playing').textContent = '';
    }
    await refresh();
  } catch (e) {
    button.disabled = false;
    showError(e.message);
  }
}

async function playVideo(video) {
  try {
    const { url } = await call('POST', `/v1/videos/${video.id}/playback`);
    const player = $('player');
    // The box takes the video's shape before its first frame: the recorded aspect, turned by
    // the rotation the browser will apply.
    const m = video.media;
    if (m) {
      const [w, h] = m.displayAspectRatio.split(':').map(Number);
      player.style.aspectRatio = m.rotation % 180 === 90 ? `${h} / ${w}` : `${w} / ${h}`;
    } else {
      player.style.aspectRatio = '';
    }
    player.src = url;
    player.dataset.id = video.id;
    $('now-playing').textContent = `Playing ${video.filename}`;
    await player.play().catch(() => { /* autoplay may need a click; the controls are there */ });
  } catch (e) {
    showError(e.message);
  }
}

$('signin').addEventListener('submit', async (event) => {
  event.preventDefault();
  showError('');
  const user = $('user').value.trim();
  try {
    token = await signIn(user);
    const sub = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub;
    $('who').textContent = `signed in as ${sub}`;
    $('app').classList.remove('hidden');
    await startUppy();
    await refresh();
  } catch (e) {
    showError(e.message);
  }
});
