/**
 * The reasons the scoring model gives for an indicator's points, by code, in
 * English and Chinese. A template names its figures as `{name}`; the model
 * fills them (`ReasonDetail.args`, already formatted) and records the English
 * text beside the code, so a reader in either language gives the same reason.
 * A code is never reused for another meaning: a new reason gets a new code.
 */
export const SCORE_REASONS = {
  'TIMELINESS.IN_TIME': {
    en: 'concluded within the statutory deadline',
    zh: '在办案期限内办结',
  },
  'TIMELINESS.LATE_ONE_DAY': {
    en: 'concluded 1 day past the deadline',
    zh: '超过办案期限 1 天办结',
  },
  'TIMELINESS.LATE': {
    en: 'concluded {days} days past the deadline',
    zh: '超过办案期限 {days} 天办结',
  },
  'PROCEDURE.COMPLETE': {
    en: 'two officers, notice, hearing and legal review as the law requires',
    zh: '两名执法人员、事先告知、听证和法制审核均符合法定要求',
  },
  'PROCEDURE.FEW_OFFICERS': {
    en: 'fewer than two officers dispatched',
    zh: '指派的执法人员少于两名',
  },
  'PROCEDURE.NO_PENALTY': {
    en: 'no penalty decision: notice, hearing and legal review not required',
    zh: '未作出处罚决定，无需告知、听证和法制审核',
  },
  'PROCEDURE.NO_NOTICE': {
    en: 'party not notified before the decision',
    zh: '作出决定前未告知当事人',
  },
  'PROCEDURE.NO_HEARING': {
    en: 'hearing due but not offered and held before the decision',
    zh: '应当听证而决定前未告知听证权利或未举行听证',
  },
  'PROCEDURE.NO_LEGAL_REVIEW': {
    en: 'major decision without legal review before it',
    zh: '重大执法决定作出前未经法制审核',
  },
  'DISCRETION.NO_FINE': {
    en: 'no fine imposed',
    zh: '未处以罚款',
  },
  'DISCRETION.INSIDE': {
    en: 'fine inside its benchmark range',
    zh: '罚款在裁量基准范围内',
  },
  'DISCRETION.OUTSIDE': {
    en: 'outside benchmark range {min} yuan - {max} yuan for its grade',
    zh: '罚款超出该裁量阶次的基准范围（{min} 元至 {max} 元）',
  },
  'DISCRETION.AT_EDGE': {
    en: 'at the edge of the benchmark range without stated grounds',
    zh: '罚款处于裁量基准范围边缘且未说明理由',
  },
  'DISCRETION.ANOMALY': {
    en: 'discretion anomaly',
    zh: '裁量异常',
  },
  'EVIDENCE.COMPLETE': {
    en: '{count} evidence items recorded before the decision, all with digests',
    zh: '决定前登记证据 {count} 项，均附摘要',
  },
  'EVIDENCE.NONE_BEFORE_DECISION': {
    en: 'no evidence recorded before the decision',
    zh: '作出决定前未登记证据',
  },
  'EVIDENCE.NONE': {
    en: 'no evidence recorded',
    zh: '未登记证据',
  },
  'EVIDENCE.NO_DIGEST': {
    en: 'evidence without a SHA-256 digest',
    zh: '有证据未附 SHA-256 摘要',
  },
  'RESPONSE.NO_ORDERS': {
    en: 'no supervision orders',
    zh: '无督办',
  },
  'RESPONSE.ON_TIME': {
    en: '{onTime} of {settled} supervision orders answered on time',
    zh: '{settled} 件督办中 {onTime} 件按期回复',
  },
  'RESPONSE.AWAITING_ONE': {
    en: '1 awaiting its answer, due {due}',
    zh: '1 件督办待回复，期限 {due}',
  },
  'RESPONSE.AWAITING': {
    en: '{count} awaiting their answers, the first due {due}',
    zh: '{count} 件督办待回复，最早期限 {due}',
  },
  'CORRECTION.CORRECTED': {
    en: 'decision corrected on reconsideration or in court',
    zh: '决定经复议或诉讼被纠正',
  },
  'CORRECTION.NONE': {
    en: 'not corrected',
    zh: '未被纠错',
  },
  'EVENTS.NOT_LISTED': {
    en: "{count} more events not listed (the case's history has them)",
    zh: '另有 {count} 个事件未列出（见案件历史）',
  },
} as const satisfies Record<string, { readonly en: string; readonly zh: string }>;

export type ScoreReasonCode = keyof typeof SCORE_REASONS;
export type ReasonLanguage = 'en' | 'zh';

/**
 * A reason's text in `lang`: its template with each `{name}` replaced by
 * `args[name]`. A figure the args lack stays as `{name}`; undefined for a
 * code this catalogue does not have (a newer model's), so the caller falls
 * back to the recorded English text.
 */
export function reasonText(
  lang: ReasonLanguage,
  code: string,
  args: Readonly<Record<string, string>> = {},
): string | undefined {
  const entry = (SCORE_REASONS as Record<string, { en: string; zh: string }>)[code];
  if (!entry) return undefined;
  return entry[lang].replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.hasOwn(args, name) ? (args[name] ?? whole) : whole,
  );
}
