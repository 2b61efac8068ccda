/**
 * The supervision rules' command ids (docs/scoring.md, "Supervision rules"):
 * `<rule>:<case>` for the orders they open, `escalate:<order>:<level>` and
 * `evaluate:<model>:<case>`. They are known before the rules need them, so
 * each prefix is kept for the one kind of command the rules send under it:
 * intake refuses any other command that carries one (COMMAND.ID_RESERVED).
 * Until 2026-12-08 an agency could record a step of its own case under
 * `overdue:<case>`, and the rules' OVERDUE order on that case was refused
 * as a reused command id every time they sent it.
 */
export const RULE_COMMAND_KINDS = {
  approaching: 'openSupervisionOrder',
  overdue: 'openSupervisionOrder',
  discretion: 'openSupervisionOrder',
  'legal-review': 'openSupervisionOrder',
  evidence: 'openSupervisionOrder',
  escalate: 'escalateSupervisionOrder',
  evaluate: 'recordEvaluation',
} as const;

export type RuleName = keyof typeof RULE_COMMAND_KINDS;

/** The kind of command (its `$case` in intake.Command) a rule's id is kept for; undefined for an id no rule uses. */
export function ruleCommandKind(
  commandId: string,
): (typeof RULE_COMMAND_KINDS)[RuleName] | undefined {
  const colon = commandId.indexOf(':');
  const rule = commandId.slice(0, colon);
  return colon > 0 && Object.hasOwn(RULE_COMMAND_KINDS, rule)
    ? RULE_COMMAND_KINDS[rule as RuleName]
    : undefined;
}
