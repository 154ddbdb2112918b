export { parseCargoLock, parseGemfileLock, parseGoSum } from './lockfiles.js';
export { parseNpmLs, parsePackageLock } from './npm.js';
export { parsePipList, parsePoetryLock, parsePythonMetadata, parseRequirementsTxt } from './python.js';
export type { IncludedFile, Owner, ThirdPartyParseResult, UnpinnedRequirement } from './common.js';
