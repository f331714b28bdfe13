// The vidgate web page: sign in, upload with Uppy 6 (its signRequest callback, or with ?mode=credentials
// its getCredentials callback), list my videos (uploads in progress first), play one through its
// playback URL, delete one. Uppy is vendored from npm by infra/web-setup.
//
// A file is sniffed in the browser as the server sniffs it (web/sniff.mjs) before anything is
// sent; the session is kept in sessionStorage (this tab, until it closes or the token expires).
// An upload survives a reload: Uppy's Golden Retriever keeps its state (and files up to
// RESTORED_FILE_BYTES) in IndexedDB, and the page resumes it, sending only the parts S3 lacks.
//
// Opened as /#link=<uploadUrl> (an upload link an app's backend made), the page is "send me a
// video": no sign-in, one file, the link's limits shown and applied, sent through the link's own
// routes (start, part URLs, complete). The link stays in the fragment, which no server sees.
import { Uppy, Dashboard, AwsS3, GoldenRetriever } from './vendor/uppy.min.mjs';
import { sniffFile } from './sniff.mjs';

const api = location.origin;
const MIB = 1024 * 1024;
/// Files up to this size come back by themselves after a reload; a larger one is picked again
/// (Uppy knows it by name, size and date) and resumes where it stopped.
const RESTORED_FILE_BYTES = 512 * MIB;
const TOKEN_KEY = 'vidgate-token';
const $ = (id) => document.getElementById(id);
let token = null;
let uppy = null;
let refreshTimer = null;
/// The caller's videos as the API last listed them.
let videos = [];
/// Keys Uppy finished sending whose record is not final yet: the S3 event records them a moment
/// later (and, for keys under the caller's prefix, creates the record), so the list looks again.
const arriving = new Set();
/// Playback replies by video id (the stream, poster and storyboard URLs, one lifetime), kept
/// while they are good for another minute and the images they name are the current ones.
const playbacks = new Map();

const REFUSED_TOKEN = 'The API refused your token: it has expired or is not one this API accepts. Sign in again.';
const UNREACHABLE = `Can't reach the vidgate API at ${api}. Is it running? (Locally: infra/local/up.)`;

function showError(message) {
  $('error').textContent = message || '';
}

/// A reply's JSON, or null when it is empty or not JSON (a proxy's error page, say).
async function readJson(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/// Calls the API as the signed-in user; throws an Error whose message a person can act on.
async function call(method, route, body) {
  let response;
  try {
    response = await fetch(api + route, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new Error(UNREACHABLE);
  }
  const json = await readJson(response);
  if (response.status === 401) {
    signOut();
    throw new Error(REFUSED_TOKEN);
  }
  if (!response.ok) throw new Error(json?.error?.message || `The API answered HTTP ${response.status} to ${method} ${route}.`);
  return json;
}

/// A JWT's claims, or null when it is not one this page can read.
function claims(jwt) {
  const parts = jwt.split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '=')));
    return json && typeof json === 'object' ? json : null;
  } catch {
    return null;
  }
}

/// A JWT as it is, or a user name exchanged for a dev token by the local stack.
async function tokenFor(input) {
  if (input.split('.').length === 3) {
    if (!claims(input)) {
      throw new Error("That isn't a JWT this page can read: paste the whole token your identity provider issued, or type a user name (local stack only).");
    }
    return input;
  }
  let response;
  try {
    response = await fetch(`${api}/local/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: input }),
    });
  } catch {
    throw new Error(UNREACHABLE);
  }
  const json = await readJson(response);
  if (!json?.token) {
    throw new Error(json?.error?.message && response.status === 400
      ? json.error.message
      : 'Signing in with a user name works only on the local stack (infra/local/up): paste a JWT your identity provider issued.');
  }
  return json.token;
}

/// Shows the page as `jwt`'s owner once the API has accepted the token.
async function startSession(jwt) {
  const c = claims(jwt);
  if (c?.exp && c.exp * 1000 <= Date.now()) throw new Error('That token has expired: sign in again for a new one.');
  token = jwt;
  await call('GET', '/v1/videos?limit=1');
  sessionStorage.setItem(TOKEN_KEY, jwt);
  $('who').textContent = `signed in as ${c?.sub ?? 'an unnamed user'}`;
  $('app').classList.remove('hidden');
  $('signout').classList.remove('hidden');
  await startUppy();
  await refresh();
}

function signOut() {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(refreshTimer);
  uppy?.cancelAll();
  videos = [];
  $('videos').replaceChildren();
  $('app').classList.add('hidden');
  $('signout').classList.add('hidden');
  $('who').textContent = 'signed out';
  stopPlayer();
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

/// Files being sniffed: uploading starts once none is left, so no unchecked file goes with it.
const checking = new Set();

async function check(file) {
  checking.add(file.id);
  let reason;
  try {
    reason = await sniffFile(file.data);
  } catch (e) {
    reason = `the file can't be read (${e.message})`;
  }
  checking.delete(file.id);
  if (reason) {
    uppy.removeFile(file.id);
    const message = `${file.name} is not a video vidgate accepts: ${reason}. Nothing was sent.`;
    showError(message);
    uppy.info(message, 'error', 10_000);
  }
  const waiting = uppy.getState().recoveredState || uppy.getFiles().some((f) => !f.progress.uploadStarted);
  if (checking.size === 0 && waiting) proceed();
}

/// Starts the upload, or resumes the one a reload interrupted once its files are all back.
function proceed() {
  const { recoveredState } = uppy.getState();
  if (recoveredState) {
    if (uppy.getFiles().some((f) => f.isGhost)) return;
    uppy.emit('restore-confirmed');
  } else {
    uppy.upload().catch(() => { /* each file's failure is shown by Uppy */ });
  }
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
  // Not autoProceed: each file is sniffed first, and uploading starts when the checks are done.
  // One store per user: another user's interrupted upload never resumes under this token.
  const id = `vidgate-${claims(token)?.sub ?? 'anonymous'}`;
  uppy = new Uppy({ id, autoProceed: false, restrictions: { allowedFileTypes: ['video/*', '.mp4', '.mov', '.webm', '.mkv'] } })
    .use(Dashboard, { inline: true, target: '#uploader', width: '100%', height: 340, hideUploadButton: true,
      proudlyDisplayPoweredByUppy: false, note: 'Videos go straight to S3; files over 5 MiB in resumable parts.' })
    .use(AwsS3, options)
    .use(GoldenRetriever, { indexedDB: { maxFileSize: RESTORED_FILE_BYTES, maxTotalSize: 2 * RESTORED_FILE_BYTES } });
  uppy.on('file-added', (file) => { showError(''); check(file); });
  // After a reload: the files (sniffed before it) resume as soon as they are all back.
  uppy.on('restored', () => {
    const ghosts = uppy.getFiles().filter((f) => f.isGhost).map((f) => f.name);
    if (ghosts.length > 0) {
      uppy.info(`Pick ${ghosts.join(', ')} again to resume: only the parts not yet sent will go.`, 'warning', 15_000);
    }
    proceed();
  });
  uppy.on('upload-progress', (file) => progressed(file));
  uppy.on('upload-success', (file, response) => {
    if (response?.body?.key) arriving.add(response.body.key);
    refresh();
  });
  uppy.on('file-removed', () => render());
  uppy.on('upload-error', () => render());
  uppy.on('complete', () => refresh());
  window.uppy = uppy; // for the console (and the browser tests' pause/resume)
}

const CREATED = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

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

function cell(className, text) {
  const td = document.createElement('td');
  td.className = className;
  if (text != null) td.textContent = text;
  return td;
}

function button(className, label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  b.textContent = label;
  b.addEventListener('click', () => onClick(b));
  return b;
}

/// Which images a playback reply's URLs are of: a new poster needs a new reply.
function imagesKey(v) {
  const i = v?.images;
  return i ? `${i.status}:${i.poster?.timeMs ?? ''}:${i.storyboard?.count ?? ''}` : '';
}

/// The video's playback reply, from the cache or the API.
async function playbackOf(v) {
  const hit = playbacks.get(v.id);
  if (hit && hit.key === imagesKey(v) && hit.expires - Date.now() > 60_000) return hit;
  const reply = await call('POST', `/v1/videos/${v.id}/playback`);
  const entry = { ...reply, key: imagesKey(v), expires: Date.parse(reply.expiresAt) };
  playbacks.set(v.id, entry);
  return entry;
}

/// The poster's place: the video's picture once vidgate has made it, a mark until then.
function thumb(video) {
  const td = cell('thumb');
  const poster = document.createElement('div');
  poster.className = 'poster';
  const cached = video && playbacks.get(video.id);
  const url = cached?.key === imagesKey(video) ? cached.posterUrl : null;
  if (url) poster.style.backgroundImage = `url("${url}")`;
  else poster.textContent = video?.images?.status === 'pending' ? '…' : '▶';
  td.append(poster);
  return td;
}

/// Fetches the poster URLs the list lacks (one playback call per video, then cached), and puts
/// each poster in its row.
async function fillPosters() {
  for (const v of videos) {
    if (v.images?.status !== 'ready' || !v.images.poster) continue;
    const cached = playbacks.get(v.id);
    if (cached?.key === imagesKey(v) && cached.expires - Date.now() > 60_000) continue;
    try {
      await playbackOf(v);
    } catch {
      continue; // The list still shows the mark; the next refresh tries again.
    }
    const td = document.querySelector(`#videos tr[data-id="${CSS.escape(v.id)}"] td.thumb`);
    td?.replaceWith(thumb(v));
  }
}

/// A file Uppy is sending: its progress, and a Cancel that stops it (Uppy aborts the upload in S3).
function localRow(file) {
  const tr = document.createElement('tr');
  tr.dataset.local = file.id;
  const status = cell('status');
  status.dataset.status = 'uploading';
  const percent = Math.round(file.progress.percentage ?? 0);
  const label = document.createElement('span');
  label.textContent = `uploading ${percent} %`;
  const bar = document.createElement('progress');
  bar.max = 100;
  bar.value = percent;
  status.append(label, bar);
  const actions = cell('actions');
  actions.append(button('cancel', 'Cancel', () => uppy.removeFile(file.id)));
  tr.append(thumb(null), cell('file', file.name), status, cell('size', formatSize(file.size)), cell('created', 'now'),
    cell('media', '–'), actions);
  return tr;
}

function videoRow(v) {
  const tr = document.createElement('tr');
  tr.dataset.id = v.id;
  const status = cell('status', v.status);
  status.dataset.status = v.status;
  const media = formatMedia(v);
  const mediaCell = cell('media', media.text);
  for (const [label, why] of media.warnings) {
    const w = document.createElement('span');
    w.className = 'media-warning';
    w.textContent = `⚠ ${label}`;
    w.title = why;
    mediaCell.append(w);
  }
  const actions = cell('actions');
  if (v.status === 'uploaded') actions.append(button('play', 'Play', () => playVideo(v)));
  // Any state: an upload in progress is stopped and its parts removed too.
  actions.append(button('delete', 'Delete', (b) => deleteVideo(v, b)));
  tr.append(thumb(v), cell('file', v.filename), status, cell('size', formatSize(v.size)),
    cell('created', CREATED.format(new Date(v.createdAt))), mediaCell, actions);
  return tr;
}

/// Files Uppy is sending now, which the list shows before the API has them as uploaded.
function sending() {
  return uppy ? uppy.getFiles().filter((f) => f.progress.uploadStarted && !f.progress.uploadComplete && !f.error) : [];
}

function render() {
  if (!token) return;
  const local = sending();
  // A multipart upload's record is the file's own row while Uppy sends it.
  const keys = new Set(local.map((f) => f.s3Multipart?.key).filter(Boolean));
  const listed = videos.filter((v) => !(v.status === 'uploading' && keys.has(v.key)));
  const rows = [...local.map(localRow), ...listed.map(videoRow)];
  $('videos').replaceChildren(...rows);
  $('empty').classList.toggle('hidden', rows.length > 0);
}

/// Moves a sending file's bar in place (a whole render per progress event would replace the
/// buttons under a user's finger).
function progressed(file) {
  const tr = document.querySelector(`#videos tr[data-local="${CSS.escape(file.id)}"]`);
  if (!tr) return render();
  const percent = Math.round(uppy.getFile(file.id)?.progress.percentage ?? 0);
  tr.querySelector('td.status span').textContent = `uploading ${percent} %`;
  tr.querySelector('td.status progress').value = percent;
}

async function refresh() {
  if (!token) return;
  clearTimeout(refreshTimer);
  try {
    ({ videos } = await call('GET', '/v1/videos?limit=50'));
    render();
    for (const v of videos) if (v.status !== 'uploading') arriving.delete(v.key);
    // S3 events finish uploads a moment after the last request, and posters follow a moment
    // later: look again while any is on its way.
    if (arriving.size > 0 || videos.some((v) => v.status === 'uploading' || v.images?.status === 'pending')) {
      refreshTimer = setTimeout(refresh, 1000);
    }
    await fillPosters();
  } catch (e) {
    showError(e.message);
  }
}

function stopPlayer() {
  const player = $('player');
  player.pause();
  player.removeAttribute('src');
  player.removeAttribute('poster');
  player.load();
  player.classList.add('hidden');
  $('scrub').classList.add('hidden');
  cues = [];
  delete player.dataset.id;
  $('now-playing').textContent = '';
}

/// Deletes a video after the user confirms; the row goes once the API said 204.
async function deleteVideo(video, control) {
  if (!window.confirm(`Delete ${video.filename}? This can't be undone.`)) return;
  control.disabled = true;
  showError('');
  try {
    await call('DELETE', `/v1/videos/${video.id}`);
    if ($('player').dataset.id === video.id) stopPlayer();
    await refresh();
  } catch (e) {
    control.disabled = false;
    showError(e.message);
  }
}

async function playVideo(video) {
  try {
    const { url, posterUrl, storyboardUrl } = await playbackOf(video);
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
    if (posterUrl) player.poster = posterUrl;
    else player.removeAttribute('poster');
    player.src = url;
    loadStoryboard(storyboardUrl, video.media?.durationMs);
    player.dataset.id = video.id;
    player.classList.remove('hidden');
    $('now-playing').textContent = `Playing ${video.filename}`;
    player.scrollIntoView({ block: 'nearest' });
    // The click on Play is the gesture that lets it start with sound.
    await player.play().catch(() => { /* a browser may still want a tap on the controls */ });
  } catch (e) {
    showError(e.message);
  }
}

/// The storyboard's cues: `{ start, end, url, x, y, w, h }`, times in seconds.
let cues = [];
let duration = 0;

/// WebVTT cues whose payload is `<sprite URL>#xywh=x,y,w,h` (what vidgate's storyboard.vtt holds).
function parseStoryboard(text) {
  const seconds = (t) => t.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  const parsed = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const lines = block.split(/\r?\n/);
    const timing = lines.findIndex((l) => l.includes('-->'));
    if (timing < 0 || !lines[timing + 1]) continue;
    const [from, to] = lines[timing].split('-->').map((t) => seconds(t.trim()));
    const [url, xywh] = lines[timing + 1].split('#xywh=');
    const [x, y, w, h] = (xywh ?? '').split(',').map(Number);
    if (url && [x, y, w, h].every(Number.isFinite)) parsed.push({ start: from, end: to, url, x, y, w, h });
  }
  return parsed;
}

/// Loads the seek previews of the playing video: the bar under the player shows the picture at
/// the moment under a finger or the pointer, and a tap or click seeks there.
async function loadStoryboard(url, durationMs) {
  cues = [];
  $('scrub').classList.add('hidden');
  if (!url || !durationMs) return;
  try {
    const response = await fetch(url);
    if (!response.ok) return;
    cues = parseStoryboard(await response.text());
    duration = durationMs / 1000;
    $('scrub').classList.toggle('hidden', cues.length === 0);
  } catch {
    // Playback goes on without previews.
  }
}

function scrubTime(event) {
  const bar = $('scrub').getBoundingClientRect();
  const x = Math.min(Math.max(event.clientX - bar.left, 0), bar.width);
  return { x, time: (x / bar.width) * duration };
}

function preview(event) {
  const { x, time } = scrubTime(event);
  const cue = cues.find((c) => time >= c.start && time < c.end) ?? cues[cues.length - 1];
  const box = $('preview');
  if (!cue) return box.classList.add('hidden');
  box.style.width = `${cue.w}px`;
  box.style.height = `${cue.h}px`;
  box.style.backgroundImage = `url("${cue.url}")`;
  box.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
  const bar = $('scrub').getBoundingClientRect();
  box.style.left = `${Math.min(Math.max(x - cue.w / 2, 0), Math.max(bar.width - cue.w, 0))}px`;
  box.dataset.time = String(cue.start);
  box.classList.remove('hidden');
}

$('scrub').addEventListener('pointermove', preview);
$('scrub').addEventListener('pointerdown', preview);
$('scrub').addEventListener('pointerleave', () => $('preview').classList.add('hidden'));
$('scrub').addEventListener('click', (event) => {
  $('player').currentTime = scrubTime(event).time;
});

/// The upload link the page was opened with (`#link=` an uploadUrl, or its bare token), or null.
function linkFromLocation() {
  const raw = new URLSearchParams(location.hash.slice(1)).get('link')?.trim();
  if (!raw) return null;
  return raw.includes('/v1/links/') ? raw.replace(/\/+$/, '') : `${api}/v1/links/${encodeURIComponent(raw)}`;
}

/// A call on an upload link's routes (no token: the URL is the credential).
async function linkCall(method, url, body) {
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new Error(UNREACHABLE);
  }
  const json = await readJson(response);
  if (response.status === 404) throw new Error("This upload link doesn't exist: check that it was copied whole.");
  if (!response.ok) throw new Error(json?.error?.message || `The API answered HTTP ${response.status}.`);
  return json;
}

/// One part's PUT with progress (`fetch` reports none for uploads).
function putPart(url, blob, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    for (const [name, value] of Object.entries(headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new Error(`S3 answered HTTP ${xhr.status} to a part.`)));
    xhr.onerror = () => reject(new Error('A part could not be sent: the connection failed. Pick the file again to retry.'));
    xhr.send(blob);
  });
}

/// What the link allows, in words.
function describeLimits(limits, expiresAt) {
  const parts = [];
  if (limits.maxSizeBytes) parts.push(`up to ${formatSize(limits.maxSizeBytes)}`);
  if (limits.maxDurationSeconds) parts.push(`at most ${limits.maxDurationSeconds} s long`);
  if (limits.contentTypes?.length) parts.push(limits.contentTypes.join(' or '));
  const until = CREATED.format(new Date(expiresAt));
  return `One video${parts.length ? `, ${parts.join(', ')}` : ''}. This link works until ${until}.`;
}

function showSent(video) {
  const result = $('send-result');
  result.dataset.status = video.status;
  result.textContent = video.status === 'uploaded'
    ? `Sent: ${video.filename} (${formatSize(video.size)}). Thank you!`
    : video.status === 'rejected'
      ? `${video.filename} was not accepted: ${video.rejectReason}.`
      : `${video.filename} is ${video.status}.`;
}

/// Sends `file` through the link: its one upload, parts straight to S3.
async function sendByLink(uploadUrl, file) {
  const progress = $('send-progress');
  progress.classList.remove('hidden');
  await linkCall('POST', `${uploadUrl}/upload`, { filename: file.name, size: file.size, contentType: file.type || undefined });
  let sent = 0;
  for (let from = 1; from;) {
    const page = await linkCall('POST', `${uploadUrl}/part-urls`, { from });
    for (const part of page.urls) {
      if (part.url) {
        const blob = file.data.slice(part.offset, part.offset + part.length);
        await putPart(part.url, blob, part.headers, (loaded) => { progress.value = (sent + loaded) / file.size; });
      }
      sent += part.length;
      progress.value = sent / file.size;
    }
    from = page.next;
  }
  try {
    const done = await linkCall('POST', `${uploadUrl}/complete`);
    showSent(done.video);
  } catch (e) {
    // A rejection (a limit, or no video) is recorded: show what the link says.
    const seen = await linkCall('GET', uploadUrl).catch(() => null);
    if (seen?.video?.status === 'rejected') showSent(seen.video);
    else throw e;
  }
}

/// "Send me a video": the page as an upload link's holder sees it.
async function startLinkMode(uploadUrl) {
  for (const id of ['signin', 'who', 'app']) $(id).classList.add('hidden');
  $('send').classList.remove('hidden');
  const seen = await linkCall('GET', uploadUrl);
  if (seen.video) return showSent(seen.video);
  if (new Date(seen.link.expiresAt) <= new Date()) throw new Error('This upload link has expired: ask for a new one.');
  const { limits } = seen.link;
  $('send-limits').textContent = describeLimits(limits, seen.link.expiresAt);
  const sender = new Uppy({
    id: `vidgate-link-${seen.link.linkId}`,
    autoProceed: false,
    restrictions: {
      maxNumberOfFiles: 1,
      maxFileSize: limits.maxSizeBytes ?? null,
      allowedFileTypes: limits.contentTypes?.length ? limits.contentTypes : ['video/*', '.mp4', '.mov', '.webm', '.mkv'],
    },
  }).use(Dashboard, { inline: true, target: '#send-uploader', width: '100%', height: 300, hideUploadButton: true,
    proudlyDisplayPoweredByUppy: false, note: 'Your video goes straight to storage; nothing else is shared.' });
  sender.on('file-added', async (file) => {
    showError('');
    const reason = await sniffFile(file.data).catch((e) => `the file can't be read (${e.message})`);
    if (reason) {
      sender.removeFile(file.id);
      return showError(`${file.name} is not a video: ${reason}. Nothing was sent.`);
    }
    try {
      await sendByLink(uploadUrl, file);
    } catch (e) {
      showError(e.message);
    }
  });
  window.uppy = sender;
}

$('signin').addEventListener('submit', async (event) => {
  event.preventDefault();
  showError('');
  try {
    await startSession(await tokenFor($('user').value.trim()));
  } catch (e) {
    showError(e.message);
  }
});

$('signout').addEventListener('click', () => { signOut(); showError(''); });

// A reload keeps the session this tab signed in with; an upload link needs none.
const link = linkFromLocation();
const saved = sessionStorage.getItem(TOKEN_KEY);
if (link) {
  startLinkMode(link).catch((e) => showError(e.message));
} else if (saved) {
  startSession(saved).catch((e) => {
    sessionStorage.removeItem(TOKEN_KEY);
    showError(e.message);
  });
}
