/**
 * The endpoints of assignments and grading (`API.md`): assignments, Start, Check and
 * Submit, submissions and their graded files, overrides, regrades, grades, the check
 * of the tests against the reference solution, extensions and missing submissions.
 */
import type {
  Assignment,
  AssignmentCreate,
  AssignmentUpdate,
  CheckCreate,
  Execution,
  Extension,
  GradeRow,
  GradescopeResults,
  GradingProgress,
  ClassGradebook,
  MissingSubmission,
  ProjectDetail,
  ScoreOverride,
  Submission,
  SubmissionCreate,
  SubmissionFile,
  Verification
} from '../types';
import type { IReply } from '../request';
import { ClientBase } from './base';
import { fillPath } from './paths';

export class AssignmentsClient extends ClientBase {
  // -- assignments ------------------------------------------------------------------

  listAssignments(classId: string): Promise<Assignment[]> {
    return this.call<Assignment[]>(
      'GET',
      fillPath('/classes/{class_id}/assignments', {
        class_id: classId
      })
    );
  }

  createAssignment(classId: string, body: AssignmentCreate): Promise<Assignment> {
    return this.call<Assignment>(
      'POST',
      fillPath('/classes/{class_id}/assignments', { class_id: classId }),
      { body }
    );
  }

  getAssignment(assignmentId: string): Promise<Assignment> {
    return this.call<Assignment>(
      'GET',
      fillPath('/assignments/{assignment_id}', {
        assignment_id: assignmentId
      })
    );
  }

  updateAssignment(assignmentId: string, body: AssignmentUpdate): Promise<Assignment> {
    return this.call<Assignment>(
      'PATCH',
      fillPath('/assignments/{assignment_id}', { assignment_id: assignmentId }),
      { body }
    );
  }

  async deleteAssignment(assignmentId: string): Promise<void> {
    await this.call<undefined>(
      'DELETE',
      fillPath('/assignments/{assignment_id}', {
        assignment_id: assignmentId
      })
    );
  }

  /** The caller's project for the assignment, made from the starter files (idempotent). */
  startAssignment(assignmentId: string): Promise<ProjectDetail> {
    return this.call<ProjectDetail>(
      'POST',
      fillPath('/assignments/{assignment_id}/start', {
        assignment_id: assignmentId
      })
    );
  }

  /**
   * Run the visible tests on a project (not a submission): an ordinary run whose
   * `tests` hold the results. With `wait`, 200 finished or 201 still queued. Of a
   * notebook assignment, `notebook` names the notebook to run (else the server's
   * first with visible test cells).
   */
  checkAssignment(
    assignmentId: string,
    projectId: string,
    options: { wait?: boolean; notebook?: string } = {}
  ): Promise<IReply<Execution>> {
    const body: CheckCreate = { project_id: projectId };
    if (options.notebook) {
      body.notebook = options.notebook;
    }
    return this.reply<Execution>(
      'POST',
      fillPath('/assignments/{assignment_id}/check', { assignment_id: assignmentId }),
      { body, query: { wait: options.wait ? true : undefined } }
    );
  }

  /** Submit a project as it is saved now; with `wait`, the reply is graded. */
  submit(
    assignmentId: string,
    projectId: string,
    options: { wait?: boolean } = {}
  ): Promise<Submission> {
    const body: SubmissionCreate = { project_id: projectId };
    return this.call<Submission>(
      'POST',
      fillPath('/assignments/{assignment_id}/submissions', { assignment_id: assignmentId }),
      { body, query: { wait: options.wait ? true : undefined } }
    );
  }

  /** Newest first; staff see every student's (or one `student`'s), students their own. */
  listSubmissions(assignmentId: string, query: { student?: string } = {}): Promise<Submission[]> {
    return this.call<Submission[]>(
      'GET',
      fillPath('/assignments/{assignment_id}/submissions', {
        assignment_id: assignmentId
      }),
      { query }
    );
  }

  getSubmission(submissionId: string): Promise<Submission> {
    return this.call<Submission>(
      'GET',
      fillPath('/submissions/{submission_id}', { submission_id: submissionId })
    );
  }

  /** Set a score by hand with a comment; `score: null` clears the override. */
  overrideScore(submissionId: string, body: ScoreOverride): Promise<Submission> {
    return this.call<Submission>(
      'PATCH',
      fillPath('/submissions/{submission_id}', { submission_id: submissionId }),
      { body }
    );
  }

  /**
   * Score a notebook submission's manually graded cells (grade_id → points; null
   * removes the staff's score); the reply has the new total.
   */
  setManualScores(
    submissionId: string,
    scores: Record<string, number | null>
  ): Promise<Submission> {
    return this.overrideScore(submissionId, { manual_scores: scores });
  }

  /** Exactly the files that were graded: the snapshot taken at submission. */
  submissionFiles(submissionId: string): Promise<SubmissionFile[]> {
    return this.call<SubmissionFile[]>(
      'GET',
      fillPath('/submissions/{submission_id}/files', { submission_id: submissionId })
    );
  }

  /** Run every test on the reference solution (staff); `wait` answers when done. */
  verifyAssignment(assignmentId: string, options: { wait?: boolean } = {}): Promise<Verification> {
    return this.call<Verification>(
      'POST',
      fillPath('/assignments/{assignment_id}/verify', { assignment_id: assignmentId }),
      { query: { wait: options.wait ? true : undefined } }
    );
  }

  /** The latest run of the tests on the reference solution (404 before the first). */
  getVerification(assignmentId: string): Promise<Verification> {
    return this.call<Verification>(
      'GET',
      fillPath('/assignments/{assignment_id}/verify', { assignment_id: assignmentId })
    );
  }

  listExtensions(assignmentId: string): Promise<Extension[]> {
    return this.call<Extension[]>(
      'GET',
      fillPath('/assignments/{assignment_id}/extensions', { assignment_id: assignmentId })
    );
  }

  /** Give `student` their own due date (an ISO date), or change it. */
  setExtension(assignmentId: string, student: string, dueAt: string): Promise<Extension> {
    return this.call<Extension>(
      'PUT',
      fillPath('/assignments/{assignment_id}/extensions/{student}', {
        assignment_id: assignmentId,
        student
      }),
      { body: { due_at: dueAt } }
    );
  }

  async deleteExtension(assignmentId: string, student: string): Promise<void> {
    await this.call<undefined>(
      'DELETE',
      fillPath('/assignments/{assignment_id}/extensions/{student}', {
        assignment_id: assignmentId,
        student
      })
    );
  }

  /** The class's students with no submission of the assignment. */
  listMissing(assignmentId: string): Promise<MissingSubmission[]> {
    return this.call<MissingSubmission[]>(
      'GET',
      fillPath('/assignments/{assignment_id}/missing', { assignment_id: assignmentId })
    );
  }

  /** The submission in Gradescope's `results.json` format. */
  submissionResults(submissionId: string): Promise<GradescopeResults> {
    return this.call<GradescopeResults>(
      'GET',
      fillPath('/submissions/{submission_id}/results.json', { submission_id: submissionId })
    );
  }

  /** Grade every submission again; progress comes as `regrade` notices and `grading`. */
  regrade(assignmentId: string): Promise<GradingProgress> {
    return this.call<GradingProgress>(
      'POST',
      fillPath('/assignments/{assignment_id}/regrade', {
        assignment_id: assignmentId
      })
    );
  }

  assignmentGrades(assignmentId: string): Promise<GradeRow[]> {
    return this.call<GradeRow[]>(
      'GET',
      fillPath('/assignments/{assignment_id}/grades', { assignment_id: assignmentId })
    );
  }

  assignmentGradesCsv(assignmentId: string): Promise<string> {
    return this.call<string>(
      'GET',
      fillPath('/assignments/{assignment_id}/grades.csv', {
        assignment_id: assignmentId
      })
    );
  }

  classGrades(classId: string): Promise<ClassGradebook> {
    return this.call<ClassGradebook>(
      'GET',
      fillPath('/classes/{class_id}/grades', { class_id: classId })
    );
  }

  classGradesCsv(classId: string): Promise<string> {
    return this.call<string>(
      'GET',
      fillPath('/classes/{class_id}/grades.csv', { class_id: classId })
    );
  }
}
