import { useEffect, useState } from 'react';
import { Alert, Button, Card, Form, Radio, Select, Space, Typography } from 'antd';
import { get, post } from '../api.js';
import { useI18n } from '../i18n.js';

interface Mode {
  mode: 'oidc' | 'development';
  agencies: { id: string; name: string }[];
}

/** Sign-in: the identity provider in production; a role picker in development. `ended`: a session just ended. */
export function SignIn({ ended = false }: { ended?: boolean }) {
  const { t, lang, setLang } = useI18n();
  const [mode, setMode] = useState<Mode>();
  const [role, setRole] = useState<'supervisor' | 'agency' | 'reporting'>('supervisor');
  const [agency, setAgency] = useState<string>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    get<Mode>('/auth/mode').then(setMode, (e: unknown) => setError(String(e)));
  }, []);
  const devSignIn = async () => {
    try {
      await post('/auth/dev', { role, agency: role === 'agency' ? agency : undefined });
      window.location.assign(window.location.pathname + window.location.search);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <main style={{ display: 'flex', justifyContent: 'center', padding: '10vh 16px' }}>
      <Card
        title={<h1 style={{ fontSize: 20, margin: 0 }}>{t('signInTitle')}</h1>}
        style={{ width: 440, maxWidth: '100%' }}
        extra={
          <Button size="small" onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')}>
            {t('language')}
          </Button>
        }
      >
        {ended && (
          <Alert
            type="warning"
            title={t('sessionEnded')}
            data-testid="session-ended"
            style={{ marginBottom: 16 }}
          />
        )}
        {error && <Alert type="error" title={error} style={{ marginBottom: 16 }} />}
        {mode?.mode === 'oidc' && (
          <Button type="primary" href="/auth/login" block>
            {t('signInOidc')}
          </Button>
        )}
        {mode?.mode === 'development' && (
          <Form layout="vertical" onFinish={() => void devSignIn()}>
            <Typography.Paragraph type="secondary">{t('devPicker')}</Typography.Paragraph>
            <Form.Item label={t('role')}>
              <Radio.Group value={role} onChange={(e) => setRole(e.target.value as typeof role)}>
                <Space direction="vertical">
                  <Radio value="supervisor">{t('role_supervisor')}</Radio>
                  <Radio value="agency">{t('role_agency')}</Radio>
                  <Radio value="reporting">{t('role_reporting')}</Radio>
                </Space>
              </Radio.Group>
            </Form.Item>
            {role === 'agency' && (
              <Form.Item label={t('agency')} htmlFor="agency-pick">
                <Select
                  id="agency-pick"
                  showSearch
                  optionFilterProp="label"
                  value={agency}
                  onChange={setAgency}
                  options={mode.agencies.map((a) => ({
                    value: a.id,
                    label: `${a.name} (${a.id})`,
                  }))}
                />
              </Form.Item>
            )}
            <Button type="primary" htmlType="submit" block disabled={role === 'agency' && !agency}>
              {t('signIn')}
            </Button>
          </Form>
        )}
      </Card>
    </main>
  );
}
