import { useEffect, useRef, useState } from 'react';
import { Link, Route, Routes, useLocation } from 'react-router-dom';
import {
  Alert,
  App as AntApp,
  Badge,
  Button,
  ConfigProvider,
  Layout,
  Menu,
  Space,
  Spin,
  Typography,
} from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import { ApiError, get, post, SESSION_ENDED } from './api.js';
import { useI18n } from './i18n.js';
import { LiveProvider, useLive } from './live.js';
import { ReferenceProvider } from './reference.js';
import type { Me } from './types.js';
import { CasePage } from './pages/case-page.js';
import { Operations } from './pages/operations.js';
import { Orders } from './pages/orders.js';
import { Overview } from './pages/overview.js';
import { Rankings } from './pages/rankings.js';
import { Report } from './pages/report.js';
import { SignIn } from './pages/sign-in.js';

export function App() {
  const { lang } = useI18n();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [failure, setFailure] = useState<string>();
  // Whoever was signed in when the session ended: the sign-in page says it ended.
  const [ended, setEnded] = useState(false);
  const signedIn = useRef(false);
  signedIn.current = Boolean(me);
  useEffect(() => {
    get<Me>('/api/me').then(setMe, (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) setMe(null);
      else setFailure(String(e));
    });
    const onEnded = () => {
      if (!signedIn.current) return;
      setEnded(true);
      setMe(null);
    };
    window.addEventListener(SESSION_ENDED, onEnded);
    return () => window.removeEventListener(SESSION_ENDED, onEnded);
  }, []);
  return (
    <ConfigProvider
      locale={lang === 'zh' ? zhCN : enUS}
      theme={{
        // Secondary text darker than antd's default, so every label meets WCAG AA contrast.
        token: {
          colorPrimary: '#b71c1c',
          borderRadius: 4,
          colorTextSecondary: 'rgba(0, 0, 0, 0.68)',
          colorTextDescription: 'rgba(0, 0, 0, 0.68)',
          colorTextTertiary: 'rgba(0, 0, 0, 0.62)',
          colorTextPlaceholder: 'rgba(0, 0, 0, 0.6)',
          colorLink: '#0b57d0',
          colorLinkHover: '#0842a0',
          colorLinkActive: '#062e6f',
        },
      }}
    >
      <AntApp>
        {failure ? (
          <Alert type="error" title={failure} />
        ) : me === undefined ? (
          <Spin fullscreen />
        ) : me === null ? (
          <SignIn ended={ended} />
        ) : (
          <ReferenceProvider>
            <LiveProvider>
              <Shell me={me} />
            </LiveProvider>
          </ReferenceProvider>
        )}
      </AntApp>
    </ConfigProvider>
  );
}

function Shell({ me }: { me: Me }) {
  const { t, lang, setLang } = useI18n();
  const live = useLive();
  const location = useLocation();
  const section = `/${location.pathname.split('/')[1] ?? ''}`;
  const items = [
    { key: '/', label: <Link to="/">{t('overview')}</Link> },
    { key: '/rankings', label: <Link to="/rankings">{t('rankings')}</Link> },
    { key: '/orders', label: <Link to="/orders">{t('orders')}</Link> },
    ...(me.can.report ? [{ key: '/report', label: <Link to="/report">{t('report')}</Link> }] : []),
    ...(me.can.operate
      ? [{ key: '/operations', label: <Link to="/operations">{t('operations')}</Link> }]
      : []),
  ];
  const signOut = async () => {
    const { redirect } = await post<{ redirect: string }>('/auth/logout');
    window.location.assign(redirect);
  };
  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Header
        style={{
          display: 'flex',
          flexWrap: 'wrap',
          alignItems: 'center',
          justifyContent: 'space-between',
          gap: 8,
          paddingInline: 16,
          height: 'auto',
          lineHeight: '48px',
        }}
      >
        <Typography.Text strong style={{ color: '#fff', whiteSpace: 'nowrap' }}>
          {t('appName')}
        </Typography.Text>
        <Space wrap>
          <Badge
            data-testid="live-status"
            status={live.up ? 'success' : 'warning'}
            text={<span style={{ color: '#fff' }}>{live.up ? t('liveUp') : t('liveDown')}</span>}
          />
          <span style={{ color: '#fff' }} data-testid="who">
            {me.roles.map((r) => t(`role_${r}`)).join('、')}
            {me.agencies.length > 0 ? ` · ${me.agencies.join(', ')}` : ''}
          </span>
          <Button size="small" onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')}>
            {t('language')}
          </Button>
          <Button size="small" onClick={() => void signOut()}>
            {t('signOut')}
          </Button>
        </Space>
      </Layout.Header>
      <nav aria-label={t('appName')}>
        <Menu
          mode="horizontal"
          selectedKeys={[section]}
          items={items}
          style={{ paddingInline: 8 }}
        />
      </nav>
      <Layout.Content style={{ padding: 16 }}>
        <main>
          <Routes>
            <Route path="/" element={<Overview me={me} />} />
            <Route path="/rankings" element={<Rankings me={me} />} />
            <Route path="/orders" element={<Orders me={me} />} />
            <Route path="/cases/:caseId" element={<CasePage me={me} />} />
            <Route path="/report" element={<Report />} />
            <Route path="/operations" element={<Operations />} />
          </Routes>
        </main>
      </Layout.Content>
    </Layout>
  );
}
