/** Studies: the book's steps run end to end as one resumable job, with a report; and the auto study of a user's own folder. */
export { runAutoStudy, type AutoStudyOptions, type AutoStudyResult, type AutoCandidateOutcome, type CandidateRecord } from './auto.js';
export { resolveAutoData, splitByClass, type AutoData } from './auto-data.js';
export { classBalanceOf, type ClassBalanceReport } from './auto-balance.js';
export { runStudy, bestStep, stepSettings, DONE_FILE, RECORD_FILE, type StudyOptions, type StudyResult, type StudyStepOutcome } from './study.js';
export {
  runStep,
  trainRecorded,
  convnetSettings,
  type RecipeRunContext,
  type RecordedRun,
  type StepRecord,
  type StepRunContext,
  type WrongImage,
} from './run-step.js';
export { writeStudyReport, overfittingGap, type StudyReportInput } from './report.js';
export {
  STUDIES,
  STEP_NAMES,
  STUDY_PROFILES,
  QUICK,
  getStudy,
  getStudyProfile,
  profileSettings,
  type StepName,
  type StepSettings,
  type StepDefinition,
  type StudyDefinition,
  type StudyProfile,
} from './steps.js';
