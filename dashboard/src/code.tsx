import type { ComponentChildren } from 'preact';

/**
 * A block of JSON or text. It scrolls when long, so it is focusable: a keyboard user can scroll it
 * (axe's scrollable-region-focusable), and it is named as a region.
 */
export function Code(props: { children: ComponentChildren; 'data-testid'?: string }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable block must be reachable by keyboard to scroll it
    <pre tabIndex={0} data-testid={props['data-testid']}>
      {props.children}
    </pre>
  );
}
