/** Training: losses, optimizers, schedules and the training loop (`flipguard/train`). */
export { train, trainingGraph, trainableParameters, withParameters, type TrainOptions, type TrainResult, type TrainProgress, type EpochRecord } from './train.js';
export { createOptimizer, defaultLr, scheduledLr, type Optimizer, type OptimizerName, type OptimizerOptions, type ScheduleName, type ScheduleOptions } from './optim.js';
