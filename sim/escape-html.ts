const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };

/**
 * Escapes text for an HTML element's content or a double-quoted attribute, as the run report
 * (sim/html-report.ts) and the sweep report (sim/experiment-report.ts) write it.
 *
 * @example escapeHtml('a < "b"') // 'a &lt; &quot;b&quot;'
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ENTITIES[c] as string);
}
