/** Liuzhou: 5 districts and 5 counties. */
export const DISTRICTS = [
  '城中区',
  '鱼峰区',
  '柳南区',
  '柳北区',
  '柳江区',
  '柳城县',
  '鹿寨县',
  '融安县',
  '融水苗族自治县',
  '三江侗族自治县',
] as const;

export type District = (typeof DISTRICTS)[number];

/** Statutory decision deadline (Art. 60): 90 days from registration unless extended. */
export const STATUTORY_DEADLINE_DAYS = 90;
