/** Studies: the book's steps run end to end as one resumable job, with a report. */
export { runStudy, stepSettings, DONE_FILE, RECORD_FILE, type StudyOptions, type StudyResult, type StudyStepOutcome } from './study.js';
export { runStep, convnetSettings, type StepRecord, type StepRunContext, type WrongImage } from './run-step.js';
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
