// The CSRF token the server set at sign-in (cookie cairn_csrf, readable by
// scripts of this origin); every request that changes something echoes it in
// the X-CSRF-Token header.
export function csrfToken(): string {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'cairn_csrf') return decodeURIComponent(v.join('='));
  }
  return '';
}

export function wsURL(): string {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/graphql';
}
