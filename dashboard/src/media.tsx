import { useState } from 'preact/hooks';

/** Why 6: a result listing many files still shows a handful of previews, not hundreds of players. */
const MAX_PREVIEWS = 6;
const MEDIA_URL =
  /https?:\/\/[^\s"'<>\\]+?\.(png|jpe?g|gif|webp|avif|svg|mp3|wav|ogg|m4a|flac|aac|mp4|webm|mov)(\?[^\s"'<>\\]*)?(?=["'\s\\]|$)/gi;
const DATA_URL = /data:(image|audio|video)\/[\w.+-]+;base64,[A-Za-z0-9+/=]+/g;

type Kind = 'image' | 'audio' | 'video';
type Media = { kind: Kind; src: string; remote: boolean };

function kindOfExtension(ext: string): Kind {
  if (/^(mp3|wav|ogg|m4a|flac|aac)$/i.test(ext)) return 'audio';
  if (/^(mp4|webm|mov)$/i.test(ext)) return 'video';
  return 'image';
}

/** The media a result holds: the body itself (base64 of an image/audio/video), data: URLs, and media URLs. */
export function findMedia(body: string, encoding: string, contentType: string): Media[] {
  const kind = /^(image|audio|video)\//.exec(contentType)?.[1] as Kind | undefined;
  if (encoding === 'base64') {
    return kind ? [{ kind, src: `data:${contentType.split(';')[0]};base64,${body}`, remote: false }] : [];
  }
  const found: Media[] = [];
  for (const match of body.matchAll(DATA_URL)) {
    found.push({ kind: match[1] as Kind, src: match[0], remote: false });
  }
  for (const match of body.matchAll(MEDIA_URL)) {
    found.push({ kind: kindOfExtension(match[1] as string), src: match[0], remote: true });
  }
  return [...new Map(found.map((m) => [m.src, m])).values()].slice(0, MAX_PREVIEWS);
}

/**
 * Previews of a result's media. Embedded media (base64) shows at once; a media URL of another site
 * shows only after a click, so opening a task never sends a request outside this server.
 */
export function MediaPreviews(props: { body: string; encoding: string; contentType: string }) {
  const media = findMedia(props.body, props.encoding, props.contentType);
  if (media.length === 0) return null;
  return (
    <ul class="media" aria-label="Media previews">
      {media.map((m) => (
        <li key={m.src}>
          <Preview media={m} />
        </li>
      ))}
    </ul>
  );
}

function Preview(props: { media: Media }) {
  const { kind, src, remote } = props.media;
  const [shown, setShown] = useState(!remote);
  if (!shown) {
    return (
      <>
        <a href={src} rel="noreferrer noopener" target="_blank" class="mono">
          {src}
        </a>{' '}
        <button type="button" onClick={() => setShown(true)}>
          Preview {kind}
        </button>
      </>
    );
  }
  // No captions exist for a generated file: the empty track only satisfies the player's markup.
  if (kind === 'audio') {
    return (
      <audio controls src={src} aria-label="Audio result">
        <track kind="captions" />
      </audio>
    );
  }
  if (kind === 'video') {
    return (
      <video controls src={src} aria-label="Video result">
        <track kind="captions" />
      </video>
    );
  }
  return <img src={src} alt="Result preview" />;
}
